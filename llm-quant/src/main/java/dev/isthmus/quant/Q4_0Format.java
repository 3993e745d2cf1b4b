package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q4_0: 32 weights per 18-byte block, {@code d} (F16) then 16 bytes of 4-bit levels; weight j is
 * d × (level − 8), levels 0..15 in the low nibbles, 16..31 in the high nibbles.
 */
public final class Q4_0Format implements BlockFormat, ScalarTwin, IntegerTwin {
    static final int QK = 32;
    static final int BLOCK_BYTES = 18;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = QuantVectors.u8(data, block + 2 + j);
                dst[y + j] = ((q & 0x0F) - 8) * d;
                dst[y + j + QK / 2] = ((q >> 4) - 8) * d;
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
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j += LANES) {
                IntVector q = QuantVectors.ints(data, block + 2 + j);
                QuantVectors.toFloat(q.and(0x0F).sub(8)).mul(d).intoArray(dst, y + j);
                QuantVectors.toFloat(QuantVectors.highNibble(q).sub(8)).mul(d).intoArray(dst, y + QK / 2 + j);
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        // Two running sums (even and odd blocks) so consecutive blocks do not wait on one FMA chain.
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int blocks = count / QK;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            acc0 = blockSum(data, block, x, xb).fma(FloatVector.broadcast(F, QuantVectors.f16(data, block)), acc0);
            acc1 = blockSum(data, block + BLOCK_BYTES, x, xb + QK)
                    .fma(FloatVector.broadcast(F, QuantVectors.f16(data, block + BLOCK_BYTES)), acc1);
        }
        if (b < blocks) {
            long block = offset + (long) b * BLOCK_BYTES;
            acc0 = blockSum(data, block, x, xOffset + b * QK).fma(FloatVector.broadcast(F, QuantVectors.f16(data, block)), acc0);
        }
        return IntLanes.sum(acc0.add(acc1));
    }

    /** Σ (level − 8)·x over one block, unscaled, as lane partial sums. */
    private static FloatVector blockSum(MemorySegment data, long block, float[] x, int xb) {
        FloatVector lo = FloatVector.zero(F);
        FloatVector hi = FloatVector.zero(F);
        for (int j = 0; j < QK / 2; j += LANES) {
            IntVector q = QuantVectors.ints(data, block + 2 + j);
            lo = QuantVectors.toFloat(q.and(0x0F).sub(8)).fma(QuantVectors.x(x, xb + j), lo);
            hi = QuantVectors.toFloat(QuantVectors.highNibble(q).sub(8)).fma(QuantVectors.x(x, xb + QK / 2 + j), hi);
        }
        return lo.add(hi);
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

    /**
     * Integer kernel in the arithmetic of llama.cpp's AVX2 {@code ggml_vec_dot_q4_0_q8_0} (see
     * {@link LegacyIntegerKernel}), which llama.cpp runs for Q4_0 rows it does not repack; repacked rows go
     * through {@link Q4_0RowGroups}.
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return INTEGER.dot(data, offset, x, xOffset, count);
    }

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        return INTEGER.dotScalar(data, offset, x, xOffset, count);
    }

    private static final LegacyIntegerKernel INTEGER = new LegacyIntegerKernel(BLOCK_BYTES, 2, -1, -1, 8);

    /** Eight rows interleaved, as llama.cpp repacks Q4_0 on AVX2 machines. */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q4_0RowGroups ROW_GROUPS = new Q4_0RowGroups();

    /** llama.cpp multiplies Q4_0 weights with Q8_0 activation blocks. */
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

    /**
     * Bit-exact with {@code quantize_row_q4_0_ref}: d = max/−8 where max is the value of largest magnitude,
     * level = min(15, trunc(x/d + 8.5)).
     */
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
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, Half.floatToF16(d));
            if (IntLanes.AVAILABLE) {
                // Eight levels at a time. x·id lies in [-8, 8], so x·id + 8.5 truncates to 0..16 and Java's
                // conversion agrees with C's; NaN gives 0 in both (C's INT_MIN is 0 as a byte).
                for (int j = 0; j < QK / 2; j += 8) {
                    IntVector lo = ((IntVector) FloatVector.fromArray(IntLanes.F, src, base + j).mul(id).add(8.5f)
                            .convert(VectorOperators.F2I, 0)).min(15);
                    IntVector hi = ((IntVector) FloatVector.fromArray(IntLanes.F, src, base + QK / 2 + j).mul(id).add(8.5f)
                            .convert(VectorOperators.F2I, 0)).min(15);
                    lo.or(hi.lanewise(VectorOperators.LSHL, 4)).convertShape(VectorOperators.I2B, ByteVector.SPECIES_64, 0)
                            .reinterpretAsBytes().intoMemorySegment(dst, block + 2 + j, ByteOrder.LITTLE_ENDIAN);
                }
            } else {
                for (int j = 0; j < QK / 2; j++) {
                    int lo = Math.min(15, (byte) KQuantMath.truncate(src[base + j] * id + 8.5f)) & 0xFF;
                    int hi = Math.min(15, (byte) KQuantMath.truncate(src[base + QK / 2 + j] * id + 8.5f)) & 0xFF;
                    dst.set(ValueLayouts.I8, block + 2 + j, (byte) (lo | hi << 4));
                }
            }
        }
    }
}
