package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML IQ4_XS: super-blocks of 256 weights in 136 bytes: {@code d} (F16), {@code scales_h} (16 bits: the
 * top two bits of eight 6-bit block scales), {@code scales_l} (4 bytes: their low nibbles), 128 bytes of
 * IQ4_NL grid indices. Block ib (32 weights) decodes as d·(scale_ib − 32)·grid[index].
 */
public final class IQ4_XSFormat implements BlockFormat {
    static final int QK = 256;
    static final int BLOCK_BYTES = 136;

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_XS;
    }

    private static int scale(MemorySegment data, long block, int ib) {
        int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
        int low = (QuantVectors.u8(data, block + 4 + ib / 2) >> (4 * (ib % 2))) & 0xF;
        return low | (((scalesH >> (2 * ib)) & 3) << 4);
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            for (int ib = 0; ib < 8; ib++) {
                float dl = d * (scale(data, block, ib) - 32);
                int y = dstOffset + b * QK + 32 * ib;
                for (int j = 0; j < 16; j++) {
                    int q = QuantVectors.u8(data, block + 8 + 16 * ib + j);
                    dst[y + j] = dl * KQuantMath.IQ4NL_VALUES[q & 0xF];
                    dst[y + j + 16] = dl * KQuantMath.IQ4NL_VALUES[q >> 4];
                }
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
            float d = QuantVectors.f16(data, block);
            for (int ib = 0; ib < 8; ib++) {
                int xb = xOffset + b * QK + 32 * ib;
                FloatVector sum = FloatVector.zero(F);
                for (int j = 0; j < 16; j += LANES) {
                    ByteVector q = QuantVectors.bytes(data, block + 8 + 16 * ib + j);
                    sum = QuantVectors.toFloat(IQ4_NLFormat.lookup(q.and((byte) 0x0F)))
                            .fma(QuantVectors.x(x, xb + j), sum);
                    sum = QuantVectors.toFloat(IQ4_NLFormat.lookup(q.lanewise(VectorOperators.LSHR, 4)))
                            .fma(QuantVectors.x(x, xb + 16 + j), sum);
                }
                acc = sum.fma(FloatVector.broadcast(F, d * (scale(data, block, ib) - 32)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** llama.cpp multiplies IQ4_XS weights with Q8_K activation blocks. */
    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        ActivationRounding.q8_K(src, srcOffset, dst, dstOffset, count);
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_iq4_xs} without an importance matrix (what llama.cpp's quantizer runs). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        Iq4Encoder encoder = new Iq4Encoder(QK);
        for (int b = 0; b < count / QK; b++) {
            encoder.encode(src, srcOffset + b * QK, QK, Iq4Encoder.NTRY);
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, encoder.dh);
            dst.set(ValueLayouts.I16, block + 2, (short) encoder.scalesH);
            for (int i = 0; i < 4; i++) {
                dst.set(ValueLayouts.I8, block + 4 + i, encoder.scalesL[i]);
            }
            for (int i = 0; i < QK / 2; i++) {
                dst.set(ValueLayouts.I8, block + 8 + i, encoder.packed(i));
            }
        }
    }
}
