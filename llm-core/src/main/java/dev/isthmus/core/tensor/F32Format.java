package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/** 32-bit IEEE floats, little-endian. */
public final class F32Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        MemorySegment.copy(data, ValueLayouts.F32, offset, dst, dstOffset, count);
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        return VectorKernels.dotF32(data, offset, x, xOffset, count);
    }

    @Override
    public void dot4(MemorySegment data, long o0, long o1, long o2, long o3, float[] x, int xOffset, int count,
                     float[] out, int outOffset) {
        if (!VectorKernels.fourRows(count)) {
            BlockFormat.super.dot4(data, o0, o1, o2, o3, x, xOffset, count, out, outOffset);
            return;
        }
        VectorKernels.dotF32x4(data, o0, o1, o2, o3, x, xOffset, count, out, outOffset);
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        MemorySegment.copy(src, srcOffset, dst, ValueLayouts.F32, offset, count);
    }
}
