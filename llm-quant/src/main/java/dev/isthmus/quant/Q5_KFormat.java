package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q5_K: super-blocks of 256 weights in 176 bytes: {@code d}, {@code dmin} (F16), 12 bytes of 6-bit
 * (scale, min) pairs as in Q4_K, 32 bytes of fifth bits ({@code qh}), 128 bytes of low nibbles. In the
 * c-th 64-weight chunk, weight l takes bit 2c of qh[l], weight 32+l bit 2c+1.
 */
public final class Q5_KFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 176;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_K;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        byte[] scales = new byte[12];
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            float min = QuantVectors.f16(data, block + 2);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, block + 4, scales, 0, 12);
            int y = dstOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuantMath.scaleK4(2 * c, scales);
                float m1 = min * KQuantMath.minK4(2 * c, scales);
                float d2 = d * KQuantMath.scaleK4(2 * c + 1, scales);
                float m2 = min * KQuantMath.minK4(2 * c + 1, scales);
                int u1 = 1 << (2 * c);
                int u2 = 2 << (2 * c);
                for (int l = 0; l < 32; l++) {
                    int q = QuantVectors.u8(data, block + 48 + 32 * c + l);
                    int h = QuantVectors.u8(data, block + 16 + l);
                    dst[y + 64 * c + l] = d1 * ((q & 0xF) + ((h & u1) != 0 ? 16 : 0)) - m1;
                    dst[y + 64 * c + 32 + l] = d2 * ((q >> 4) + ((h & u2) != 0 ? 16 : 0)) - m2;
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
            float min = QuantVectors.f16(data, block + 2);
            long sLo = data.get(ValueLayouts.I64, block + 4);
            int sHi = data.get(ValueLayouts.I32, block + 12);
            int y = dstOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                FloatVector d1 = FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c, sLo, sHi));
                FloatVector m1 = FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c, sLo, sHi));
                FloatVector d2 = FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c + 1, sLo, sHi));
                FloatVector m2 = FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c + 1, sLo, sHi));
                for (int l = 0; l < 32; l += LANES) {
                    IntVector q = QuantVectors.ints(data, block + 48 + 32 * c + l);
                    IntVector h = QuantVectors.ints(data, block + 16 + l).lanewise(VectorOperators.LSHL, 4);
                    QuantVectors.toFloat(q.and(0x0F).or(h.lanewise(VectorOperators.LSHR, 2 * c).and(0x10)))
                            .mul(d1).sub(m1).intoArray(dst, y + 64 * c + l);
                    QuantVectors.toFloat(QuantVectors.highNibble(q).or(h.lanewise(VectorOperators.LSHR, 2 * c + 1).and(0x10)))
                            .mul(d2).sub(m2).intoArray(dst, y + 64 * c + 32 + l);
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
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        FloatVector accMin = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            float min = QuantVectors.f16(data, block + 2);
            long sLo = data.get(ValueLayouts.I64, block + 4);
            int sHi = data.get(ValueLayouts.I32, block + 12);
            int xb = xOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector x1s = FloatVector.zero(F);
                FloatVector x2s = FloatVector.zero(F);
                for (int l = 0; l < 32; l += LANES) {
                    IntVector q = QuantVectors.ints(data, block + 48 + 32 * c + l);
                    // qh bit 2c (resp. 2c+1) moved to bit 4, next to the nibble.
                    IntVector h = QuantVectors.ints(data, block + 16 + l).lanewise(VectorOperators.LSHL, 4);
                    FloatVector x1 = QuantVectors.x(x, xb + 64 * c + l);
                    FloatVector x2 = QuantVectors.x(x, xb + 64 * c + 32 + l);
                    s1 = QuantVectors.toFloat(q.and(0x0F).or(h.lanewise(VectorOperators.LSHR, 2 * c).and(0x10))).fma(x1, s1);
                    s2 = QuantVectors.toFloat(QuantVectors.highNibble(q).or(h.lanewise(VectorOperators.LSHR, 2 * c + 1).and(0x10)))
                            .fma(x2, s2);
                    x1s = x1s.add(x1);
                    x2s = x2s.add(x2);
                }
                acc0 = s1.fma(FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c, sLo, sHi)), acc0);
                acc1 = s2.fma(FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c + 1, sLo, sHi)), acc1);
                accMin = x1s.fma(FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c, sLo, sHi)), accMin);
                accMin = x2s.fma(FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c + 1, sLo, sHi)), accMin);
            }
        }
        return IntLanes.sum(acc0.add(acc1).sub(accMin));
    }

    /**
     * Integer kernel in the arithmetic of llama.cpp's AVX2 {@code ggml_vec_dot_q5_K_q8_K}: as Q4_K's (16-bit
     * lanes holding element pairs, four elements per 32-bit lane, integer super-block sums) with the fifth bit of
     * every level added from {@code qh}, and the minimums summed per super-block into one integer and one scalar
     * FMA chain (llama.cpp's {@code summs}; Q4_K keeps four lanes).
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return KQuantIntegers.dot(data, offset, x, xOffset, count, BLOCK_BYTES, Q5_KFormat::superBlock);
    }

    /** One super-block into {@code acc}, in a method small enough for C2 to keep every vector in registers. */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32,
                                   float dx, float[] acc) {
        long scales = KQuantIntegers.scales(data, block + 4);
        ShortVector h = ShortVector.fromMemorySegment(IntLanes.S, data, block + 16, QuantVectors.LE);
        IntVector sum = IntVector.zero(IntLanes.I);
        // Sub-block j: nibbles (low for even j, high for odd) of run j/2, bit j of qh on top. One loop body keeps
        // the method within C2's inlining budget.
        for (int j = 0; j < 8; j++) {
            ShortVector q = ShortVector.fromMemorySegment(IntLanes.S, data, block + 48 + 32 * (j >> 1), QuantVectors.LE);
            ShortVector level = q.lanewise(VectorOperators.LSHR, (short) (4 * (j & 1))).and(LOW_NIBBLES)
                    .or(h.lanewise(VectorOperators.LSHR, (short) j).and(LOW_BITS).lanewise(VectorOperators.LSHL, (short) 4));
            int xo = xb + 32 * j;
            IntVector pairs = level.and(LOW_BYTE).mul(ShortVector.fromArray(IntLanes.S, levels, xo))
                    .add(level.lanewise(VectorOperators.LSHR, (short) 8).mul(ShortVector.fromArray(IntLanes.S, levels, xo + 16)))
                    .reinterpretAsInts();
            sum = sum.add(IntLanes.addHalves(pairs).mul(KQuantIntegers.at(scales, j)));
        }
        IntLanes.toFloat(sum).fma(FloatVector.broadcast(IntLanes.F, dx * QuantVectors.f16(data, block)),
                FloatVector.fromArray(IntLanes.F, acc, 0)).intoArray(acc, 0);
        // llama.cpp sums Q5_K's minimums per super-block into one integer and one scalar chain (summs).
        long mins = KQuantIntegers.mins(data, block + 4);
        int m = 0;
        for (int j = 0; j < 8; j++) {
            m += KQuantIntegers.at(mins, j) * xSums[s32 + j];
        }
        acc[8] = Math.fma(-dx * QuantVectors.f16(data, block + 2), (float) m, acc[8]);
    }

    private static final ShortVector LOW_NIBBLES = ShortVector.broadcast(IntLanes.S, (short) 0x0F0F);
    private static final ShortVector LOW_BITS = ShortVector.broadcast(IntLanes.S, (short) 0x0101);
    private static final ShortVector LOW_BYTE = ShortVector.broadcast(IntLanes.S, (short) 0xFF);

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            long scales = KQuantIntegers.scales(data, block + 4);
            long mins = KQuantIntegers.mins(data, block + 4);
            int dots = 0;
            int minimums = 0;
            for (int c = 0; c < 4; c++) {
                for (int half = 0; half < 2; half++) {
                    int j = 2 * c + half;
                    int levelSum = 0;
                    int dot = 0;
                    for (int l = 0; l < 32; l++) {
                        int q = QuantVectors.u8(data, block + 48 + 32 * c + l);
                        int h = QuantVectors.u8(data, block + 16 + l);
                        int level = (half == 0 ? q & 0xF : q >> 4) + ((h >> j) & 1) * 16;
                        short a = x.levels()[QuantizedActivations.evenOddIndex(xb + 32 * j + l)];
                        dot += level * a;
                        levelSum += a;
                    }
                    dots += KQuantIntegers.at(scales, j) * dot;
                    minimums += KQuantIntegers.at(mins, j) * levelSum;
                }
            }
            float dx = x.scales()[xb / QK];
            sum += dx * QuantVectors.f16(data, block) * dots - dx * QuantVectors.f16(data, block + 2) * minimums;
        }
        return sum;
    }

    /**
     * Eight rows interleaved ({@link Q5_KRowGroups}). llama.cpp keeps Q5_K in single rows; the group kernel sums
     * the same integers and differs from it only in the order of float additions.
     */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q5_KRowGroups ROW_GROUPS = new Q5_KRowGroups();

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q5_K_ref}: Q4_K's encoder with 31 levels and its own search range. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        Q4_KFormat.encode(src, srcOffset, dst, offset, count, 31, -0.5f, 0.1f, 15, BLOCK_BYTES);
    }

    /** Splits 5-bit levels into the qh bit planes and low nibbles. */
    static void packLevels(byte[] levels, MemorySegment dst, long block) {
        byte[] qh = new byte[32];
        int m1 = 1;
        int m2 = 2;
        for (int n = 0; n < QK; n += 64) {
            for (int j = 0; j < 32; j++) {
                int l1 = levels[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= (byte) m1;
                }
                int l2 = levels[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= (byte) m2;
                }
                dst.set(ValueLayouts.I8, block + 48 + n / 2 + j, (byte) (l1 | (l2 << 4)));
            }
            m1 <<= 2;
            m2 <<= 2;
        }
        MemorySegment.copy(qh, 0, dst, ValueLayout.JAVA_BYTE, block + 16, 32);
    }
}
