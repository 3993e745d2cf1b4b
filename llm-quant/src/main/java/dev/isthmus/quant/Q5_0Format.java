package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q5_0: 32 weights per 22-byte block, {@code d} (F16), {@code qh} (32 fifth bits, little-endian)
 * and 16 bytes of low nibbles; weight j is d × (level − 16).
 */
public final class Q5_0Format implements BlockFormat, ScalarTwin, IntegerTwin {
    static final int QK = 32;
    static final int BLOCK_BYTES = 22;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_0;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            int qh = data.get(ValueLayouts.I32, block + 2);
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = QuantVectors.u8(data, block + 6 + j);
                int h0 = ((qh >>> j) << 4) & 0x10;
                int h1 = (qh >>> (j + 12)) & 0x10;
                dst[y + j] = (((q & 0x0F) | h0) - 16) * d;
                dst[y + j + QK / 2] = (((q >> 4) | h1) - 16) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        if (!QuantVectors.VECTORIZED) {
            dequantizeScalar(data, offset, dst, dstOffset, count);
            return;
        }
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(F, QuantVectors.f16(data, block));
            int qh = data.get(ValueLayouts.I32, block + 2);
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j += LANES) {
                IntVector q = QuantVectors.ints(data, block + 6 + j);
                QuantVectors.toFloat(q.and(0x0F).or(fifthBits(qh, j)).sub(16)).mul(d).intoArray(dst, y + j);
                QuantVectors.toFloat(QuantVectors.highNibble(q).or(fifthBits(qh, j + 16)).sub(16)).mul(d)
                        .intoArray(dst, y + QK / 2 + j);
            }
        }
    }

    /** Bits {@code first..first+LANES-1} of {@code qh}, one per lane, moved to bit 4 (value 16). */
    private static IntVector fifthBits(int qh, int first) {
        return IntVector.broadcast(QuantVectors.I, qh >>> first).lanewise(VectorOperators.LSHR, QuantVectors.IOTA)
                .lanewise(VectorOperators.LSHL, 4).and(0x10);
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            int qh = data.get(ValueLayouts.I32, block + 2);
            FloatVector lo = FloatVector.zero(F);
            FloatVector hi = FloatVector.zero(F);
            for (int j = 0; j < QK / 2; j += LANES) {
                IntVector q = QuantVectors.ints(data, block + 6 + j);
                lo = QuantVectors.toFloat(q.and(0x0F).or(fifthBits(qh, j)).sub(16)).fma(QuantVectors.x(x, xb + j), lo);
                hi = QuantVectors.toFloat(QuantVectors.highNibble(q).or(fifthBits(qh, j + 16)).sub(16))
                        .fma(QuantVectors.x(x, xb + QK / 2 + j), hi);
            }
            FloatVector d = FloatVector.broadcast(F, QuantVectors.f16(data, block));
            if ((b & 1) == 0) {
                acc0 = lo.add(hi).fma(d, acc0);
            } else {
                acc1 = lo.add(hi).fma(d, acc1);
            }
        }
        return IntLanes.sum(acc0.add(acc1));
    }

    @Override
    public boolean quantizesActivations() {
        return IntLanes.AVAILABLE;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        checkBlocks(count);
        dst.quantizeQ8_0EvenOdd(src, srcOffset, count);
    }

    /** Integer kernel in the arithmetic of llama.cpp's AVX2 vec_dot (see {@link LegacyIntegerKernel}). */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return INTEGER.dot(data, offset, x, xOffset, count);
    }

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        return INTEGER.dotScalar(data, offset, x, xOffset, count);
    }

    private static final LegacyIntegerKernel INTEGER = new LegacyIntegerKernel(BLOCK_BYTES, 6, 2, -1, 16);

    /** Eight rows interleaved, levels in 16-bit lane slots ({@link SlotRowGroups}); llama.cpp has no such layout. */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final SlotRowGroups ROW_GROUPS = new SlotRowGroups(new Q5_0Format(), INTEGER);

    /** llama.cpp multiplies Q5_0 weights with Q8_0 activation blocks. */
    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        ActivationRounding.q8_0(src, srcOffset, dst, dstOffset, count);
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q5_0_ref}: d = max/−16, level = min(31, trunc(x/d + 16.5)). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            int base = srcOffset + b * QK;
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < QK; j++) {
                float v = src[base + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, Half.floatToF16(d));
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int lo = Math.min(31, (byte) KQuantMath.truncate(src[base + j] * id + 16.5f)) & 0xFF;
                int hi = Math.min(31, (byte) KQuantMath.truncate(src[base + QK / 2 + j] * id + 16.5f)) & 0xFF;
                dst.set(ValueLayouts.I8, block + 6 + j, (byte) ((lo & 0x0F) | (hi & 0x0F) << 4));
                qh |= ((lo & 0x10) >> 4) << j;
                qh |= ((hi & 0x10) >> 4) << (j + QK / 2);
            }
            dst.set(ValueLayouts.I32, block + 2, qh);
        }
    }
}
