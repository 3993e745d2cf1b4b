package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML IQ4_XS: super-blocks of 256 weights in 136 bytes: {@code d} (F16), {@code scales_h} (16 bits: the
 * top two bits of eight 6-bit block scales), {@code scales_l} (4 bytes: their low nibbles), 128 bytes of
 * IQ4_NL grid indices. Block ib (32 weights) decodes as d·(scale_ib − 32)·grid[index].
 */
public final class IQ4_XSFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 136;

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_XS;
    }

    /** Block {@code ib}'s 6-bit scale, from {@code scales_h} and the four {@code scales_l} bytes. */
    private static int scale(int scalesH, int scalesL, int ib) {
        return ((scalesL >>> (4 * ib)) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
            int scalesL = data.get(ValueLayouts.I32, block + 4);
            for (int ib = 0; ib < 8; ib++) {
                float dl = d * (scale(scalesH, scalesL, ib) - 32);
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
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        if (!QuantVectors.VECTORIZED) {
            dequantizeScalar(data, offset, dst, dstOffset, count);
            return;
        }
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
            int scalesL = data.get(ValueLayouts.I32, block + 4);
            for (int ib = 0; ib < 8; ib++) {
                IQ4_NLFormat.blockDequantize(data, block + 8 + 16 * ib, d * (scale(scalesH, scalesL, ib) - 32), dst,
                        dstOffset + b * QK + 32 * ib);
            }
        }
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
            float d = QuantVectors.f16(data, block);
            int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
            int scalesL = data.get(ValueLayouts.I32, block + 4);
            int xb = xOffset + b * QK;
            for (int ib = 0; ib < 8; ib++) {
                // IQ4_NLFormat.blockDot written out: a call returning a vector is not always inlined here.
                ByteVector q = ByteVector.fromMemorySegment(IQ4_NLFormat.B16, data, block + 8 + 16 * ib, QuantVectors.LE);
                ByteVector lo = IQ4_NLFormat.lowValues(q);
                ByteVector hi = IQ4_NLFormat.highValues(q);
                int xs = xb + 32 * ib;
                FloatVector s0 = IQ4_NLFormat.part(lo, 0).mul(QuantVectors.x(x, xs));
                FloatVector s1 = IQ4_NLFormat.part(hi, 0).mul(QuantVectors.x(x, xs + 16));
                for (int p = 1; p < IQ4_NLFormat.PARTS; p++) {
                    s0 = IQ4_NLFormat.part(lo, p).fma(QuantVectors.x(x, xs + p * LANES), s0);
                    s1 = IQ4_NLFormat.part(hi, p).fma(QuantVectors.x(x, xs + 16 + p * LANES), s1);
                }
                FloatVector dl = FloatVector.broadcast(F, d * (scale(scalesH, scalesL, ib) - 32));
                acc0 = s0.fma(dl, acc0);
                acc1 = s1.fma(dl, acc1);
            }
        }
        return IntLanes.sum(acc0.add(acc1));
    }

    /**
     * Integer kernel in the arithmetic of llama.cpp's AVX2 {@code ggml_vec_dot_iq4_xs_q8_K}: per 32-weight block the
     * grid values in element order (looked up as bytes), each 16-bit lane a pair (2m, 2m + 1) meeting the even and
     * odd activation levels, four weights per 32-bit lane, times the block scale; the super-block's integer sums then
     * meet d_w·d_x in one float FMA chain, reduced as ggml reduces it.
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return KQuantIntegers.dot(data, offset, x, xOffset, count, BLOCK_BYTES, IQ4_XSFormat::superBlock);
    }

    /**
     * One super-block into {@code acc} ({@link KQuantIntegers.SuperBlock}; no minimums). A grid value and an
     * activation level are each at most 127 in magnitude, so a lane's two products fit 16 bits (32258).
     */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32,
                                   float dx, float[] acc) {
        int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
        int scalesL = data.get(ValueLayouts.I32, block + 4);
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int ib = 0; ib < 8; ib++) {
            ShortVector values = QuantVectors.nibblesInOrder(data, block + 8 + 16 * ib).reinterpretAsBytes()
                    .selectFrom(IQ4_NLRowGroups.GRID).reinterpretAsShorts();
            int at = xb + 32 * ib;
            IntVector pairs = values.lanewise(VectorOperators.LSHL, (short) 8).lanewise(VectorOperators.ASHR, (short) 8)
                    .mul(ShortVector.fromArray(IntLanes.S, levels, at))
                    .add(values.lanewise(VectorOperators.ASHR, (short) 8).mul(ShortVector.fromArray(IntLanes.S, levels, at + 16)))
                    .reinterpretAsInts();
            sum = sum.add(IntLanes.addHalves(pairs).mul(scale(scalesH, scalesL, ib) - 32));
        }
        IntLanes.toFloat(sum).fma(FloatVector.broadcast(IntLanes.F, QuantVectors.f16(data, block) * dx),
                FloatVector.fromArray(IntLanes.F, acc, 0)).intoArray(acc, 0);
    }

    /**
     * Eight rows interleaved ({@link IQ4_XSRowGroups}); llama.cpp does not repack IQ4_XS, so the groups follow this
     * format's own integer arithmetic: the same integers per row and super-block as {@link #dotQuantized}, and the
     * float steps of {@link #dotQuantizedScalar}.
     */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final IQ4_XSRowGroups ROW_GROUPS = new IQ4_XSRowGroups();

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
            int scalesL = data.get(ValueLayouts.I32, block + 4);
            int dots = 0;
            for (int ib = 0; ib < 8; ib++) {
                int dot = 0;
                for (int j = 0; j < 16; j++) {
                    int q = QuantVectors.u8(data, block + 8 + 16 * ib + j);
                    dot += KQuantMath.IQ4NL_VALUES[q & 0xF] * x.levels()[QuantizedActivations.evenOddIndex(xb + 32 * ib + j)]
                            + KQuantMath.IQ4NL_VALUES[q >> 4] * x.levels()[QuantizedActivations.evenOddIndex(xb + 32 * ib + j + 16)];
                }
                dots += (scale(scalesH, scalesL, ib) - 32) * dot;
            }
            sum += QuantVectors.f16(data, block) * x.scales()[xb / QK] * dots;
        }
        return sum;
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
