package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_K weights eight rows at a time ({@link RowGroupLayout}): {@link Q4_KRowGroups}' layout for the scales and the
 * low four bits of every level, followed in each super-block column by the fifth bits. A column takes 1408 bytes,
 * as many as the eight rows' own super-blocks:
 * <ul>
 *   <li>1152 bytes as Q4_K's column: d and dmin, the (scale, min) bytes, and four runs c of eight nibble strips;
 *   <li>256 bytes: eight 32-byte strips q of fifth bits, 16-bit lane 2r + e holding bytes 4q + 2e and
 *       4q + 2e + 1 of row r's {@code qh}, the same weights as lane 2r + e of every nibble strip q, each byte's
 *       bits reordered ({@link #runOrder}) so that run c's two bits are one shift from bit 4.
 * </ul>
 * Each nibble vector multiplies one broadcast activation pair, as in Q4_K's kernel ({@code pairLevels}), and every
 * row's products pile up lane-wise.
 *
 * <p>llama.cpp does not repack Q5_K; its {@code ggml_vec_dot_q5_K_q8_K} sums the same integers per super-block
 * (S = Σ scale_j × Σ level × activation level, M = Σ min_j × activation sums) but adds its float lanes in another
 * order, so results agree with it to float rounding. Here each row keeps one running {@code fma(S, d·d_x)} and one
 * for the minimums, as the Q4_K group kernel does.
 */
final class Q5_KRowGroups implements RowGroupLayout {
    private static final int ROWS = 8;
    private static final int QK = 256;
    /** Where the fifth-bit strips start in a super-block column. */
    private static final int HIGH = Q4_KRowGroups.BLOCK_BYTES;
    private static final int BLOCK_BYTES = HIGH + 8 * 32;
    private static final int LOW_NIBBLES = 0x0F0F_0F0F;
    private static final int FIFTH_BITS = 0x1010_1010;
    /** The low byte of each 16-bit half. */
    private static final int LOW_BYTES = 0x00FF_00FF;
    private static final Q5_KFormat Q5_K = new Q5_KFormat();

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        return (long) (cols / QK) * BLOCK_BYTES;
    }

    @Override
    public boolean canPack(Tensor weight) {
        return RowGroupFit.fits(weight, GgmlType.Q5_K, 0, 2);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.Q5_K, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q5_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                Q4_KRowGroups.packRow(src, from, 48, dst, to, r);
                for (int q = 0; q < 8; q++) {
                    for (int i = 0; i < 4; i++) {
                        dst.set(ValueLayouts.I8, to + HIGH + 32L * q + 4L * r + i,
                                (byte) runOrder(src.get(ValueLayouts.I8, from + 16 + 4 * q + i) & 0xFF));
                    }
                }
            }
        }
    }

    /**
     * A {@code qh} byte with its bits reordered for the kernel: sub-block 2c's bit to bit c, 2c + 1's to bit 4 + c.
     * Run c then finds its two fifth bits one shift away from bit 4 each.
     */
    static int runOrder(int qh) {
        int ordered = 0;
        for (int j = 0; j < 8; j++) {
            ordered |= (qh >> j & 1) << position(j);
        }
        return ordered;
    }

    /** Where sub-block j's fifth bit sits in a reordered byte ({@link #runOrder}). */
    private static int position(int j) {
        return (j & 1) == 0 ? j / 2 : 4 + j / 2;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q5_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
    }

    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q5_K, xOffset, cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] scales = x.scales();
        // S of one super-block, and the running sums (lanes 0-7: Σ S·d·d_x; 8-15: Σ M·dmin·d_x), through memory
        // between levelSums and accumulate: vectors crossing a call that is not inlined would be boxed.
        KernelScratch scratch = KernelScratch.get();
        int[] s = scratch.ints(ROWS);
        float[] acc = scratch.zeroedFloats(2 * ROWS);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            levelSums(packed, block, pairs, xb * QK / 2, s);
            Q4_KRowGroups.accumulate(packed, block, s, sums, xb * ActivationRounding.SUMS_PER_BLOCK
                    + ActivationRounding.SUMS_OF_32, scales[xb], acc);
        }
        FloatVector.fromArray(IntLanes.F, acc, 0).sub(FloatVector.fromArray(IntLanes.F, acc, ROWS)).intoArray(out, outOffset);
    }

    /**
     * S = Σ_j scale_j × Σ level × activation level per row into {@code s[0..8)}. Strip q of run c gives, per
     * 16-bit lane, the 5-bit levels of two weights of sub-block 2c (low nibbles with fifth bit 2c) and two of
     * 2c + 1 (high nibbles, bit 2c + 1), each pair built in one vector and split into bytes. A product is at most
     * 31 × 127, so 16-bit lanes take four strips (8 products, at most 31496) before they are widened.
     *
     * <p>Written with Vector API calls only: past C2's parse-time node budget a helper of our own is left a call
     * and its vectors are boxed.
     */
    private static void levelSums(MemorySegment packed, long block, int[] pairs, int pair, int[] s) {
        IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES, ByteOrder.LITTLE_ENDIAN);
        IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES + 64, ByteOrder.LITTLE_ENDIAN);
        // Eight 6-bit scales per row, four per word: sub-blocks 0..3, then 4..7 (ggml's utmp).
        IntVector first = u0.and(0x3F3F3F3F);
        IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int c = 0; c < 4; c++) {
            IntVector lowPairs = IntVector.zero(IntLanes.I);
            IntVector highPairs = IntVector.zero(IntLanes.I);
            long strips = Q4_KRowGroups.strip(block, c, 0);
            int i0 = pair + 32 * c;
            for (int half = 0; half < 2; half++) {
                ShortVector low = ShortVector.zero(IntLanes.S);
                ShortVector high = ShortVector.zero(IntLanes.S);
                for (int q = 4 * half; q < 4 * half + 4; q++) {
                    // Bit fields moved by shifts of 32-bit lanes (C2 compiles 16-bit lane shifts with the count moved
                    // into a register each time); the masks keep every field inside its own byte.
                    IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * q, ByteOrder.LITTLE_ENDIAN);
                    IntVector h = IntVector.fromMemorySegment(IntLanes.I, packed, block + HIGH + 32L * q, ByteOrder.LITTLE_ENDIAN);
                    // Both bytes' levels of sub-block 2c, then of 2c + 1: nibble | fifth bit moved from bit c
                    // (resp. 4 + c) of the reordered byte to bit 4.
                    IntVector even = v.and(LOW_NIBBLES).or(h.lanewise(VectorOperators.LSHL, 4 - c).and(FIFTH_BITS));
                    IntVector odd = v.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES)
                            .or(h.lanewise(VectorOperators.LSHR, c).and(FIFTH_BITS));
                    int i = i0 + q;
                    low = low.add(even.and(LOW_BYTES).reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i]).reinterpretAsShorts()))
                            .add(even.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
                                    .mul(IntVector.broadcast(IntLanes.I, pairs[i + 8]).reinterpretAsShorts()));
                    high = high.add(odd.and(LOW_BYTES).reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i + 16]).reinterpretAsShorts()))
                            .add(odd.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
                                    .mul(IntVector.broadcast(IntLanes.I, pairs[i + 24]).reinterpretAsShorts()));
                }
                // A row's two 16-bit lanes summed (x86's pmaddwd with ones).
                IntVector lows = low.reinterpretAsInts();
                IntVector highs = high.reinterpretAsInts();
                lowPairs = lowPairs.add(lows.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(lows.lanewise(VectorOperators.ASHR, 16)));
                highPairs = highPairs.add(highs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(highs.lanewise(VectorOperators.ASHR, 16)));
            }
            IntVector scaleWords = c < 2 ? first : last;
            int shift = 16 * (c % 2);
            sum = sum.add(lowPairs.mul(scaleWords.lanewise(VectorOperators.LSHR, shift).and(0xFF)))
                    .add(highPairs.mul(scaleWords.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF)));
        }
        sum.intoArray(s, 0);
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            Q4_KRowGroups.dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride, BLOCK_BYTES,
                    Q5_KRowGroups::subBlockColumns);
            return;
        }
        byte[] scales = new byte[12];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            for (int r = 0; r < ROWS; r++) {
                float d = QuantVectors.f16(packed, block + 4L * r);
                float min = QuantVectors.f16(packed, block + 4L * r + 2);
                Q4_KRowGroups.rowScales(packed, block, r, scales);
                int y = dstOffset + r * rowStride;
                for (int j = 0; j < 8; j++) {
                    float dj = d * KQuantMath.scaleK4(j, scales);
                    float mj = min * KQuantMath.minK4(j, scales);
                    for (int l = 0; l < 32; l++) {
                        int q = QuantVectors.u8(packed, Q4_KRowGroups.strip(block, j / 2, l / 4) + 4L * r + l % 4);
                        int h = QuantVectors.u8(packed, block + HIGH + 32L * (l / 4) + 4L * r + l % 4);
                        int level = (q >> (4 * (j % 2)) & 0xF) | (h >> position(j) & 1) << 4;
                        dst[y + (b * QK + 32 * j + l) * colStride] = dj * level - mj;
                    }
                }
            }
        }
    }

    /**
     * Sub-block {@code j}'s 32 columns of the eight rows: 32-bit lane r of nibble strip q and of fifth-bit strip q
     * hold four of row r's bytes, so shifts and masks give a level of every row at once; dj·level − mj
     * ({@code factors}: dj, then mj), rounded as the format's own decoders round it.
     */
    private static void subBlockColumns(MemorySegment packed, long block, int j, float[] factors, float[] dst,
                                        int column, int colStride) {
        FloatVector dj = FloatVector.fromArray(IntLanes.F, factors, 0);
        FloatVector mj = FloatVector.fromArray(IntLanes.F, factors, ROWS);
        int nibble = 4 * (j % 2);
        for (int q = 0; q < 8; q++) {
            IntVector strip = IntVector.fromMemorySegment(IntLanes.I, packed, Q4_KRowGroups.strip(block, j / 2, q),
                    ByteOrder.LITTLE_ENDIAN);
            IntVector fifth = IntVector.fromMemorySegment(IntLanes.I, packed, block + HIGH + 32L * q, ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < 4; k++) {
                IntVector level = strip.lanewise(VectorOperators.LSHR, 8 * k + nibble).and(0x0F)
                        .or(fifth.lanewise(VectorOperators.LSHR, 8 * k + position(j)).and(1).lanewise(VectorOperators.LSHL, 4));
                level.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).mul(dj).sub(mj)
                        .intoArray(dst, column + (4 * q + k) * colStride);
            }
        }
    }
}
