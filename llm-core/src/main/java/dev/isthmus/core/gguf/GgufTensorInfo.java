package dev.isthmus.core.gguf;

import dev.isthmus.core.tensor.GgmlType;

/**
 * A tensor's entry in a GGUF header.
 *
 * @param name       the tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param ggufDims   dimensions as stored, innermost (row length) first
 * @param type       the storage type
 * @param offset     byte offset of the data relative to the start of the data section
 * @param byteSize   bytes of data
 */
public record GgufTensorInfo(String name, long[] ggufDims, GgmlType type, long offset, long byteSize) {
    public GgufTensorInfo {
        ggufDims = ggufDims.clone();
    }

    @Override
    public long[] ggufDims() {
        return ggufDims.clone();
    }

    /** Dimensions outermost first, as {@link dev.isthmus.core.tensor.Tensor} uses them. */
    public long[] shape() {
        long[] shape = new long[ggufDims.length];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = ggufDims[ggufDims.length - 1 - i];
        }
        return shape;
    }

    public long elementCount() {
        long n = 1;
        for (long d : ggufDims) {
            n *= d;
        }
        return n;
    }
}
