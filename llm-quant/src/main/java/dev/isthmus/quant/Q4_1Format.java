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
 * GGML Q4_1: 32 weights per 20-byte block, {@code d} and {@code m} (F16) then 16 bytes of 4-bit levels;
 * weight j is level × d + m (low nibbles hold weights 0..15, high nibbles 16..31).
 */
public final class Q4_1Format implements BlockFormat, ScalarTwin, IntegerTwin {
    static final int QK = 32;
    static final int BLOCK_BYTES = 20;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_1;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            float m = QuantVectors.f16(data, block + 2);
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = QuantVectors.u8(data, block + 4 + j);
                dst[y + j] = (q & 0x0F) * d + m;
                dst[y + j + QK / 2] = (q >> 4) * d + m;
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
            FloatVector m = FloatVector.broadcast(F, QuantVectors.f16(data, block + 2));
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j += LANES) {
                IntVector q = QuantVectors.ints(data, block + 4 + j);
                // Multiply then add, unfused, as ggml rounds.
                QuantVectors.toFloat(q.and(0x0F)).mul(d).add(m).intoArray(dst, y + j);
                QuantVectors.toFloat(QuantVectors.highNibble(q)).mul(d).add(m).intoArray(dst, y + QK / 2 + j);
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        FloatVector acc = FloatVector.zero(F);
        FloatVector accMin = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            FloatVector lo = FloatVector.zero(F);
            FloatVector hi = FloatVector.zero(F);
            FloatVector sumX = FloatVector.zero(F);
            for (int j = 0; j < QK / 2; j += LANES) {
                IntVector q = QuantVectors.ints(data, block + 4 + j);
                FloatVector x0 = QuantVectors.x(x, xb + j);
                FloatVector x1 = QuantVectors.x(x, xb + QK / 2 + j);
                lo = QuantVectors.toFloat(q.and(0x0F)).fma(x0, lo);
                hi = QuantVectors.toFloat(QuantVectors.highNibble(q)).fma(x1, hi);
                sumX = sumX.add(x0.add(x1));
            }
            // Σ (q·d + m)·x = d·Σ q·x + m·Σ x.
            acc = lo.add(hi).fma(FloatVector.broadcast(F, QuantVectors.f16(data, block)), acc);
            accMin = sumX.fma(FloatVector.broadcast(F, QuantVectors.f16(data, block + 2)), accMin);
        }
        return IntLanes.sum(acc.add(accMin));
    }

    @Override
    public boolean quantizesActivations() {
        return IntLanes.AVAILABLE;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        checkBlocks(count);
        dst.quantizeQ8_1EvenOdd(src, srcOffset, count);
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

    private static final LegacyIntegerKernel INTEGER = new LegacyIntegerKernel(BLOCK_BYTES, 4, -1, 2, 0);

    /** Eight rows interleaved, levels in 16-bit lane slots ({@link SlotRowGroups}); llama.cpp has no such layout. */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final SlotRowGroups ROW_GROUPS = new SlotRowGroups(new Q4_1Format(), INTEGER);

    /** llama.cpp multiplies Q4_1 weights with Q8_1 activation blocks (same values as Q8_0). */
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

    /** Bit-exact with {@code quantize_row_q4_1_ref}: d = (max − min)/15, level = min(15, trunc((x − min)/d + 0.5)). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            int base = srcOffset + b * QK;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = src[base + j];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, Half.floatToF16(d));
            dst.set(ValueLayouts.I16, block + 2, Half.floatToF16(min));
            for (int j = 0; j < QK / 2; j++) {
                int lo = Math.min(15, (byte) KQuantMath.truncate((src[base + j] - min) * id + 0.5f)) & 0xFF;
                int hi = Math.min(15, (byte) KQuantMath.truncate((src[base + QK / 2 + j] - min) * id + 0.5f)) & 0xFF;
                dst.set(ValueLayouts.I8, block + 4 + j, (byte) (lo | hi << 4));
            }
        }
    }
}
