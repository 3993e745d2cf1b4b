package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/** bfloat16 (the upper 16 bits of an IEEE float), little-endian. */
public final class BF16Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        int i = VectorKernels.dequantizeBF16(data, offset, dst, dstOffset, count);
        for (; i < count; i++) {
            dst[dstOffset + i] = Half.bf16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i));
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        return VectorKernels.dotBF16(data, offset, x, xOffset, count);
    }

    @Override
    public void dot4(MemorySegment data, long o0, long o1, long o2, long o3, float[] x, int xOffset, int count,
                     float[] out, int outOffset) {
        if (!VectorKernels.fourRows(count)) {
            BlockFormat.super.dot4(data, o0, o1, o2, o3, x, xOffset, count, out, outOffset);
            return;
        }
        VectorKernels.dotBF16x4(data, o0, o1, o2, o3, x, xOffset, count, out, outOffset);
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        for (int i = 0; i < count; i++) {
            dst.set(ValueLayouts.I16, offset + 2L * i, Half.floatToBf16(src[srcOffset + i]));
        }
    }

    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = Half.bf16ToFloat(Half.floatToBf16(src[srcOffset + i]));
        }
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }
}
