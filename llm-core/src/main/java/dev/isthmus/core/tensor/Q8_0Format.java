package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML Q8_0: blocks of 32 signed bytes sharing one F16 scale {@code d}; value = d × q.
 * Layout per block: {@code d} (2 bytes), {@code q[32]}.
 */
public final class Q8_0Format implements BlockFormat {
    private static final int QK = 32;
    private static final int BLOCK_BYTES = 34;

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        if (VectorKernels.dequantizeQ8_0(data, offset, dst, dstOffset, count)) {
            return;
        }
        dequantizeScalar(data, offset, dst, dstOffset, count);
    }

    /** The scalar oracle of {@link #dequantize}. */
    void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = d * data.get(ValueLayouts.I8, block + 2 + j);
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        return VectorKernels.dotQ8_0(data, offset, x, xOffset, count);
    }

    @Override
    public boolean quantizesActivations() {
        return IntLanes.AVAILABLE;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        dst.quantizeQ8_0EvenOdd(src, srcOffset, count);
    }

    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return VectorKernels.dotQ8_0Quantized(data, offset, x.levels(), x.scales(), xOffset, count);
    }

    @Override
    public void dotQuantized2(MemorySegment data, long offset, QuantizedActivations x, int xOffset0, int xOffset1,
                              int count, float[] out, int out0, int out1) {
        x.requireWholeBlocks(this, xOffset0, count);
        x.requireWholeBlocks(this, xOffset1, count);
        VectorKernels.dotQ8_0Quantized2(data, offset, x.levels(), x.scales(), xOffset0, xOffset1, count, out, out0, out1);
    }

    /** The scalar oracle of {@link #dotQuantized}: exact integer block sums, scaled and added in block order. */
    float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int s = 0;
            for (int j = 0; j < QK; j++) {
                s += data.get(ValueLayouts.I8, block + 2 + j)
                        * x.levels()[QuantizedActivations.evenOddIndex(xOffset + b * QK + j)];
            }
            sum += Half.f16ToFloat(data.get(ValueLayouts.I16, block)) * x.scales()[xOffset / QK + b] * s;
        }
        return sum;
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with ggml's {@code quantize_row_q8_0_ref}: d = amax/127, q = round-half-away(x/d). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            int base = srcOffset + b * QK;
            float amax = 0f;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[base + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1.0f / d : 0f;
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, Half.floatToF16(d));
            for (int j = 0; j < QK; j++) {
                dst.set(ValueLayouts.I8, block + 2 + j, (byte) roundHalfAway(src[base + j] * id));
            }
        }
    }

    /** C's {@code roundf}: halves round away from zero (Java's Math.round rounds them up). */
    static int roundHalfAway(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (int) Math.copySign(r, v);
    }

    /**
     * Activations meet Q8_0 weights as Q8_0 blocks in llama.cpp, quantized by its vectorised encoder
     * (scale 127/amax, round-to-nearest-even), which differs slightly from the reference encoder above.
     */
    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count; b += QK) {
            float amax = 0f;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[srcOffset + b + j]));
            }
            float d = Half.f16ToFloat(Half.floatToF16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b + j] = d * (float) Math.rint(src[srcOffset + b + j] * id);
            }
        }
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }

    /** Eight-row groups ({@link Q8_0RowGroups}), bit for bit {@link #dotQuantized}, where 256-bit vectors run natively. */
    @Override
    public java.util.Optional<RowGroupLayout> rowGroups() {
        return IntLanes.AVAILABLE ? java.util.Optional.of(ROW_GROUPS) : java.util.Optional.empty();
    }

    private static final Q8_0RowGroups ROW_GROUPS = new Q8_0RowGroups();
}
