package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_0 weights eight rows at a time ({@link RowGroupLayout}) in {@link NibbleBlockGroups}' layout. Each nibble
 * vector of a strip multiplies one broadcast pair of activation levels, and every row's products pile up
 * lane-wise.
 *
 * <p>The arithmetic is llama.cpp's repacked Q4_0 kernel ({@code ggml_gemv_q4_0_8x8_q8_0}): per row and block an
 * exact integer sum S of (level − 8) × activation level, then {@code acc = fma(S, d_w × d_x, acc)} block after
 * block — one running sum per row and no lane reduction, so the results are bit for bit llama.cpp's.
 */
final class Q4_0RowGroups implements RowGroupLayout {
    private static final int ROWS = NibbleBlockGroups.ROWS;
    private static final int QK = NibbleBlockGroups.QK;
    /** The low nibble of each 16-bit half of a 32-bit lane. */
    private static final int LOW_NIBBLES = 0x000F_000F;

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        return NibbleBlockGroups.groupBytes(cols);
    }

    @Override
    public boolean canPack(Tensor weight) {
        return NibbleBlockGroups.canPack(weight, GgmlType.Q4_0);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        NibbleBlockGroups.pack(weight, GgmlType.Q4_0, firstRow, dst, offset);
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        dst.quantizeQ8_0Paired(src, srcOffset, count);
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per block: an exact 16-bit sum of level × activation level per row (levels 0..15: 16 products of at most
     * 15 × 127 per lane, below 2^15), less 8 × Σ activation, times d_w × d_x into one float per row. Activation
     * pairs are loaded as ready-made vectors ({@link QuantizedActivations#pairVectors()}): one load where a
     * broadcast from the scalar costs three instructions.
     *
     * <p>Deliberately one method of more than 325 bytecodes ({@code FreqInlineSize}, checked by a test), so that
     * C2 compiles it on its own instead of inlining it into the backend's loop. Inlined there as small methods,
     * beside Q6_K's kernel that shares the loop's call site, it ran out of C2's node budget; the calls left
     * out of line passed boxed vectors, and a Q4_0 model decoded at 13 instead of 43 tok/s.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q4_0, xOffset, cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        int pair0 = xOffset / 2;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            long strips = NibbleBlockGroups.levels(pair, b);
            int p = 16 * (pair0 + b * QK / 2);
            ShortVector sum = ShortVector.zero(IntLanes.S);
            // Strips 1 and 3 pile up apart from 0 and 2: two chains of eight additions instead of one of sixteen
            // (one thread 14.7 -> 15.1 GB/s; the integer sum, and so the result, is the same).
            ShortVector sum2 = ShortVector.zero(IntLanes.S);
            // Nibbles moved by shifts of 32-bit lanes, masked in both 16-bit halves: C2 compiles 16-bit lane shifts
            // with the count moved into a register each time. The four strips are written out: C2 kept a loop over
            // them rolled (its body is past C2's unrolling limit).
            IntVector v0 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 0L, ByteOrder.LITTLE_ENDIAN);
            sum = sum.add(v0.and(LOW_NIBBLES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p + 0)))
                    .add(v0.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 128)))
                    .add(v0.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16)))
                    .add(v0.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 144)));
            IntVector v1 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L, ByteOrder.LITTLE_ENDIAN);
            sum2 = sum2.add(v1.and(LOW_NIBBLES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32)))
                    .add(v1.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 160)))
                    .add(v1.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48)))
                    .add(v1.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 176)));
            IntVector v2 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 64L, ByteOrder.LITTLE_ENDIAN);
            sum = sum.add(v2.and(LOW_NIBBLES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p + 64)))
                    .add(v2.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 192)))
                    .add(v2.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 80)))
                    .add(v2.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 208)));
            IntVector v3 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 96L, ByteOrder.LITTLE_ENDIAN);
            sum2 = sum2.add(v3.and(LOW_NIBBLES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p + 96)))
                    .add(v3.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 224)))
                    .add(v3.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 112)))
                    .add(v3.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 240)));
            // Written with Vector API calls only (as NibbleBlockGroups.scales and IntLanes.addHalves compute):
            // past C2's node budget a helper returning a vector is left a call, and its vector boxed.
            IntVector halves = sum.add(sum2).reinterpretAsInts();
            IntVector s = halves.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(halves.lanewise(VectorOperators.ASHR, 16)).sub(8 * sums[xBlock + b]);
            IntVector dh = IntVector.fromMemorySegment(IntLanes.I, packed, pair, ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (b % 2));
            FloatVector d = dh.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dh.and(0x8000_0000))
                    .reinterpretAsFloats().mul(0x1p112f).mul(scales[xBlock + b]);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(d, acc);
        }
        acc.intoArray(out, outOffset);
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride);
            return;
        }
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            for (int r = 0; r < ROWS; r++) {
                float d = QuantVectors.f16(packed, NibbleBlockGroups.scale(pair, r, b));
                for (int q = 0; q < 4; q++) {
                    for (int e = 0; e < 2; e++) {
                        long lane = NibbleBlockGroups.levels(pair, b) + 32L * q + 2L * (2 * r + e);
                        for (int half = 0; half < 2; half++) {
                            int v = QuantVectors.u8(packed, lane + half);
                            int c = b * QK + 4 * q + 2 * half + e;
                            dst[dstOffset + r * rowStride + c * colStride] = ((v & 0x0F) - 8) * d;
                            dst[dstOffset + r * rowStride + (c + 16) * colStride] = ((v >> 4) - 8) * d;
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side: 32-bit lane r of a strip holds row r's two 16-bit lanes, so
     * shifting by 16e + 4n and masking yields nibble n of lane 2r + e for all rows at once.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            FloatVector d = NibbleBlockGroups.scales(packed, pair, b);
            for (int q = 0; q < 4; q++) {
                IntVector strip = IntVector.fromMemorySegment(IntLanes.I, packed, NibbleBlockGroups.levels(pair, b) + 32L * q,
                        ByteOrder.LITTLE_ENDIAN);
                int column = dstOffset + (b * QK + 4 * q) * colStride;
                for (int e = 0; e < 2; e++) {
                    for (int n = 0; n < 4; n++) {
                        IntVector level = strip.lanewise(VectorOperators.LSHR, 16 * e + 4 * n).and(0x0F).sub(8);
                        IntLanes.toFloat(level).mul(d).intoArray(dst, column + (e + NIBBLE_COLUMN[n]) * colStride);
                    }
                }
            }
        }
    }

    /** Column of nibble n (low to high) of a 16-bit strip lane, relative to 4q + e. */
    private static final int[] NIBBLE_COLUMN = {0, 16, 2, 18};

    private static final Q4_0Format Q4_0 = new Q4_0Format();
}
