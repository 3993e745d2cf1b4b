package dev.isthmus.gpu.cuda;

/**
 * Where keys and values live in one device allocation: per layer a K block then a V block, each
 * {@code [position][kvHead][headDim]} floats — the layout {@code attention} in kernels.cu reads.
 *
 * <pre>{@code
 * KvCacheLayout kv = new KvCacheLayout(22, 2048, 4, 64);
 * long k5 = kv.keyOffset(3, 5);     // bytes from the start of the cache to layer 3, position 5
 * }</pre>
 *
 * @param layers    transformer layers
 * @param positions context length
 * @param kvHeads   key/value heads
 * @param headDim   floats per head
 */
public record KvCacheLayout(int layers, int positions, int kvHeads, int headDim) {
    static final int FLOAT_BYTES = 4;

    public KvCacheLayout {
        if (layers < 1 || positions < 1 || kvHeads < 1 || headDim < 1) {
            throw new IllegalArgumentException("KV cache dimensions must be positive: " + layers + " layers, "
                    + positions + " positions, " + kvHeads + " heads of " + headDim);
        }
    }

    /** Bytes of one position (all KV heads) of K or V. */
    public long positionBytes() {
        return (long) kvHeads * headDim * FLOAT_BYTES;
    }

    /** Bytes of one layer's K (or V) block. */
    public long blockBytes() {
        return positionBytes() * positions;
    }

    /** Bytes of the whole cache. */
    public long totalBytes() {
        return Math.multiplyExact(blockBytes(), 2L * layers);
    }

    /** Byte offset of layer {@code layer}'s key at {@code position}. */
    public long keyOffset(int layer, int position) {
        check(layer, position);
        return 2L * layer * blockBytes() + position * positionBytes();
    }

    /** Byte offset of layer {@code layer}'s value at {@code position}. */
    public long valueOffset(int layer, int position) {
        return keyOffset(layer, position) + blockBytes();
    }

    private void check(int layer, int position) {
        if (layer < 0 || layer >= layers || position < 0 || position >= positions) {
            throw new IndexOutOfBoundsException("layer " + layer + ", position " + position + " is outside a cache of "
                    + layers + " layers x " + positions + " positions");
        }
    }
}
