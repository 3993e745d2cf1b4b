package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q4_0: 32 weights per 18-byte block, {@code d} (F16) then 16 bytes of 4-bit levels; weight j is
 * d × (level − 8), levels 0..15 in the low nibbles, 16..31 in the high nibbles.
 */
public final class Q4_0Format implements BlockFormat {
    static final int QK = 32;
    static final int BLOCK_BYTES = 18;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
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
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0; j < QK / 2; j += LANES) {
                ByteVector q = QuantVectors.bytes(data, block + 2 + j);
                // Centre in the byte domain (levels 0..15 → −8..7) so the widening is a plain signed convert.
                FloatVector lo = QuantVectors.toFloat(q.and((byte) 0x0F).sub((byte) 8));
                FloatVector hi = QuantVectors.toFloat(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8));
                sum = lo.fma(QuantVectors.x(x, xb + j), sum);
                sum = hi.fma(QuantVectors.x(x, xb + QK / 2 + j), sum);
            }
            // One scale per block: apply it to the block's partial sums instead of to every weight.
            acc = sum.fma(FloatVector.broadcast(F, QuantVectors.f16(data, block)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

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
            for (int j = 0; j < QK / 2; j++) {
                int lo = Math.min(15, (byte) KQuantMath.truncate(src[base + j] * id + 8.5f)) & 0xFF;
                int hi = Math.min(15, (byte) KQuantMath.truncate(src[base + QK / 2 + j] * id + 8.5f)) & 0xFF;
                dst.set(ValueLayouts.I8, block + 2 + j, (byte) (lo | hi << 4));
            }
        }
    }
}
