package dev.isthmus.core.model;

import java.util.Arrays;

/**
 * Keys and values of every layer for one session, as floats. Values are rounded to half precision when
 * stored by default — llama.cpp keeps an F16 cache, and matching its rounding keeps logits comparable.
 *
 * <p>Storage grows by doubling as positions are used (up to the capacity), so a session with a large context
 * length only pays for the tokens it actually holds.
 */
final class KvCache {
    private static final int INITIAL_POSITIONS = 256;

    private final float[][] keys;
    private final float[][] values;
    private final int kvDim;
    private final int capacity;
    private final boolean halfPrecision;
    private int allocatedPositions;

    KvCache(int layers, int capacity, int kvDim, boolean halfPrecision) {
        if ((long) capacity * kvDim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions × " + kvDim
                    + " is too large for one array per layer; use a smaller context length");
        }
        this.keys = new float[layers][];
        this.values = new float[layers][];
        this.kvDim = kvDim;
        this.capacity = capacity;
        this.halfPrecision = halfPrecision;
        grow(Math.min(capacity, INITIAL_POSITIONS));
    }

    int capacity() {
        return capacity;
    }

    float[] keys(int layer) {
        return keys[layer];
    }

    float[] values(int layer) {
        return values[layer];
    }

    /** Makes room for positions {@code [0, positions)}. */
    void ensure(int positions) {
        if (positions > allocatedPositions) {
            grow(Math.min(capacity, Math.max(positions, 2 * allocatedPositions)));
        }
    }

    private void grow(int positions) {
        long bytes = 2L * keys.length * positions * kvDim * Float.BYTES;
        try {
            for (int l = 0; l < keys.length; l++) {
                keys[l] = keys[l] == null ? new float[positions * kvDim] : Arrays.copyOf(keys[l], positions * kvDim);
                values[l] = values[l] == null ? new float[positions * kvDim] : Arrays.copyOf(values[l], positions * kvDim);
            }
        } catch (OutOfMemoryError e) {
            throw new IllegalStateException("not enough heap for a KV cache of " + (bytes >> 20) + " MiB ("
                    + positions + " positions); lower contextLength or raise -Xmx", e);
        }
        allocatedPositions = positions;
    }

    /** Stores one position's key and value vectors. */
    void store(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        ensure(pos + 1);
        int at = pos * kvDim;
        float[] kc = keys[layer];
        float[] vc = values[layer];
        for (int i = 0; i < kvDim; i++) {
            kc[at + i] = round(k[kOff + i]);
            vc[at + i] = round(v[vOff + i]);
        }
    }

    /** Copies the first {@code positions} positions of every layer into {@code other}. */
    void copyTo(KvCache other, int positions) {
        other.ensure(positions);
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(keys[l], 0, other.keys[l], 0, positions * kvDim);
            System.arraycopy(values[l], 0, other.values[l], 0, positions * kvDim);
        }
    }

    private float round(float v) {
        return halfPrecision ? Float.float16ToFloat(Float.floatToFloat16(v)) : v;
    }
}
