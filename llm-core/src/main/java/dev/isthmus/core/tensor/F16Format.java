package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/** IEEE binary16, little-endian. */
public final class F16Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        int i = VectorKernels.dequantizeF16(data, offset, dst, dstOffset, count);
        for (; i < count; i++) {
            dst[dstOffset + i] = Half.f16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i));
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        return VectorKernels.dotF16(data, offset, x, xOffset, count);
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        for (int i = 0; i < count; i++) {
            dst.set(ValueLayouts.I16, offset + 2L * i, Half.floatToF16(src[srcOffset + i]));
        }
    }

    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = Half.f16ToFloat(Half.floatToF16(src[srcOffset + i]));
        }
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }

    /** Eight-row groups ({@link F16RowGroups}) where 256-bit vectors run natively. */
    @Override
    public java.util.Optional<RowGroupLayout> rowGroups() {
        return IntLanes.AVAILABLE ? java.util.Optional.of(ROW_GROUPS) : java.util.Optional.empty();
    }

    private static final F16RowGroups ROW_GROUPS = new F16RowGroups();
}
