package dev.isthmus.core.model;

/**
 * Keys and values of every layer for one session, as floats. Values are rounded to half precision when
 * stored by default — llama.cpp keeps an F16 cache, and matching its rounding keeps logits comparable.
 */
final class KvCache {
    private final float[][] keys;
    private final float[][] values;
    private final int kvDim;
    private final int capacity;
    private final boolean halfPrecision;

    KvCache(int layers, int capacity, int kvDim, boolean halfPrecision) {
        long bytes = 2L * layers * capacity * kvDim * Float.BYTES;
        if ((long) capacity * kvDim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions × " + kvDim
                    + " is too large for one array per layer; use a smaller context length");
        }
        try {
            this.keys = new float[layers][capacity * kvDim];
            this.values = new float[layers][capacity * kvDim];
        } catch (OutOfMemoryError e) {
            throw new IllegalStateException("not enough heap for a KV cache of " + (bytes >> 20) + " MiB ("
                    + capacity + " positions); lower contextLength or raise -Xmx", e);
        }
        this.kvDim = kvDim;
        this.capacity = capacity;
        this.halfPrecision = halfPrecision;
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

    /** Stores one position's key and value vectors. */
    void store(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
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
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(keys[l], 0, other.keys[l], 0, positions * kvDim);
            System.arraycopy(values[l], 0, other.values[l], 0, positions * kvDim);
        }
    }

    private float round(float v) {
        return halfPrecision ? Float.float16ToFloat(Float.floatToFloat16(v)) : v;
    }
}
