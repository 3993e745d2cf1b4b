package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IQ4_NL weights eight rows at a time ({@link RowGroupLayout}) in {@link NibbleBlockGroups}' layout (the blocks
 * have Q4_0's shape: an F16 scale and 16 bytes of nibbles).
 *
 * <p>The nibbles index the non-linear grid ({@code kvalues_iq4nl}). A strip's low nibbles (and then its high
 * nibbles) are looked up as bytes in one table lookup; each 16-bit lane then holds two signed grid values,
 * sign-extended in place by shifts — no lane conversions, whose compiled code depends on profiles shared by
 * every caller in the process.
 *
 * <p>The arithmetic is llama.cpp's repacked IQ4_NL kernel ({@code ggml_gemv_iq4_nl_8x8_q8_0}, the Q4_0
 * template with the grid as its table): per row and block an exact integer sum S of grid value × activation
 * level, then {@code acc = fma(S, d_w × d_x, acc)} block after block, so the results are bit for bit
 * llama.cpp's.
 */
final class IQ4_NLRowGroups implements RowGroupLayout {
    private static final int ROWS = NibbleBlockGroups.ROWS;
    private static final int QK = NibbleBlockGroups.QK;
    private static final ShortVector LOW_NIBBLES_16 = ShortVector.broadcast(IntLanes.S, (short) 0x0F0F);
    private static final int LOW_NIBBLES = 0x0F0F_0F0F;
    /** The low byte of each 16-bit half. */
    private static final int LOW_BYTES = 0x00FF_00FF;
    /** The grid in both 128-bit halves: lookups index 0..15 either way (IQ4_XS's kernel looks up in it too). */
    static final ByteVector GRID = ByteVector.fromArray(ByteVector.SPECIES_256, grid(), 0);
    private static final IQ4_NLFormat IQ4_NL = new IQ4_NLFormat();
    /** {@link #GRID} + 128 as unsigned bytes (stored as their signed bit patterns). */
    private static final ByteVector BIASED_GRID = GRID.add((byte) 128);

    private static byte[] grid() {
        byte[] grid = new byte[32];
        for (int i = 0; i < 32; i++) {
            grid[i] = KQuantMath.IQ4NL_VALUES[i % 16];
        }
        return grid;
    }

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
        return NibbleBlockGroups.canPack(weight, GgmlType.IQ4_NL);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        NibbleBlockGroups.pack(weight, GgmlType.IQ4_NL, firstRow, dst, offset);
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        IQ4_NL.checkBlocks(count);
        dst.quantizeQ8_0Paired(src, srcOffset, count);
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per row and block: S = Σ grid value × activation level, then {@code acc = fma(S, d_w × d_x, acc)}.
     *
     * <p>Strip q of a block gives four nibble vectors; lane 2r + e holds weights 4q + e, 4q + 2 + e (low
     * nibbles, low and high byte) and 4q + 16 + e, 4q + 18 + e (high nibbles) of row r, which meet the
     * activation pairs (4q, 4q + 1), (4q + 2, 4q + 3), (4q + 16, 4q + 17) and (4q + 18, 4q + 19), loaded
     * ready-made over all lanes ({@link QuantizedActivations#pairVectors()}).
     *
     * <p>Why 16-bit sums are widened after every two products, and how: a grid value and an activation level
     * both lie in [−127, 127], so a product is at most 127² = 16129 in magnitude and a sum t of two at most
     * 32258 — it fits a signed 16-bit lane, a third product might not. The low lane of each 32-bit pair gets
     * 32768 added (as a 16-bit lane, so nothing carries), which puts it in [510, 65026]: read as an int, the
     * pair is then exactly 65536·hi + lo + 32768. Summing those ints over a block (8 per row, wrapping) and,
     * apart, their high halves (x >> 16 = hi), the row's sum is Y − 65535·H − 8·32768: exact, because wrapping
     * sums are exact modulo 2^32 and the true sum, at most 32 × 16129 in magnitude, fits an int. That costs one
     * shift per 32-bit lane instead of the three a sign-extending widening takes.
     *
     * <p>Written with Vector API calls only (no helpers of our own taking or returning vectors): past C2's
     * parse-time node budget such a helper is left a call and its vectors are boxed, while the API's own
     * methods are inlined later.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(IQ4_NL, xOffset, cols);
        short[] pairs = x.pairVectors();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            FloatVector d = NibbleBlockGroups.scales(packed, pair, b).mul(scales[xBlock + b]);
            IntVector sums = IntVector.zero(IntLanes.I);
            IntVector highs = IntVector.zero(IntLanes.I);
            long strips = NibbleBlockGroups.levels(pair, b);
            int i0 = xOffset / 2 + b * QK / 2;
            // The block's four strips written out: C2 kept a loop over them rolled (its body is past C2's unrolling
            // limit), with its index arithmetic per strip: 6.1 against 7.5 GB/s on one thread.
            int at0 = i0;
            IntVector v0 = IntVector.fromMemorySegment(IntLanes.I, packed, strips, ByteOrder.LITTLE_ENDIAN);
            // Each byte's nibble replaced by its grid value + 128 (an unsigned byte): two per 16-bit lane, taken
            // out by a mask (and a shift of 32-bit lanes) less 128 — fewer operations than sign-extending in
            // place, and C2 compiles 16-bit lane shifts with the count moved into a register each time.
            IntVector low0 = v0.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high0 = v0.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first0 = low0.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * at0))
                    .add(low0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at0 + 1))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second0 = high0.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at0 + 8)))
                    .add(high0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at0 + 9))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first0).add(second0);
            highs = highs.add(first0.lanewise(VectorOperators.ASHR, 16)).add(second0.lanewise(VectorOperators.ASHR, 16));
            int at1 = i0 + 2;
            IntVector v1 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L, ByteOrder.LITTLE_ENDIAN);
            IntVector low1 = v1.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high1 = v1.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first1 = low1.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * at1))
                    .add(low1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at1 + 1))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second1 = high1.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at1 + 8)))
                    .add(high1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at1 + 9))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first1).add(second1);
            highs = highs.add(first1.lanewise(VectorOperators.ASHR, 16)).add(second1.lanewise(VectorOperators.ASHR, 16));
            int at2 = i0 + 4;
            IntVector v2 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector low2 = v2.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high2 = v2.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first2 = low2.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * at2))
                    .add(low2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at2 + 1))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second2 = high2.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at2 + 8)))
                    .add(high2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at2 + 9))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first2).add(second2);
            highs = highs.add(first2.lanewise(VectorOperators.ASHR, 16)).add(second2.lanewise(VectorOperators.ASHR, 16));
            int at3 = i0 + 6;
            IntVector v3 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 96L, ByteOrder.LITTLE_ENDIAN);
            IntVector low3 = v3.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high3 = v3.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first3 = low3.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * at3))
                    .add(low3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at3 + 1))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second3 = high3.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at3 + 8)))
                    .add(high3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (at3 + 9))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first3).add(second3);
            highs = highs.add(first3.lanewise(VectorOperators.ASHR, 16)).add(second3.lanewise(VectorOperators.ASHR, 16));
            IntVector s = sums.sub(highs.mul(65535)).sub(8 * 32768);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(d, acc);
        }
        acc.intoArray(out, outOffset);
    }

    /** 32768 in the low 16-bit lane of every 32-bit lane, 0 in the high one. */
    private static final ShortVector LOW_LANE_BIAS = IntVector.broadcast(IntLanes.I, 0x8000).reinterpretAsShorts();

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
                            dst[dstOffset + r * rowStride + c * colStride] = d * KQuantMath.IQ4NL_VALUES[v & 0x0F];
                            dst[dstOffset + r * rowStride + (c + 16) * colStride] = d * KQuantMath.IQ4NL_VALUES[v >> 4];
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side: a strip's nibbles looked up as bytes, after which 32-bit lane
     * r holds four of row r's grid values, one per byte, sign-extended by two shifts.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            FloatVector d = NibbleBlockGroups.scales(packed, pair, b);
            for (int q = 0; q < 4; q++) {
                ShortVector strip = ShortVector.fromMemorySegment(IntLanes.S, packed, NibbleBlockGroups.levels(pair, b) + 32L * q,
                        ByteOrder.LITTLE_ENDIAN);
                int column = dstOffset + (b * QK + 4 * q) * colStride;
                valueColumns(lookUp(strip.and(LOW_NIBBLES_16)).reinterpretAsInts(), d, dst, column, colStride);
                valueColumns(lookUp(strip.lanewise(VectorOperators.LSHR, (short) 4).and(LOW_NIBBLES_16)).reinterpretAsInts(),
                        d, dst, column + 16 * colStride, colStride);
            }
        }
    }

    /** Each byte (a nibble 0..15) replaced by its grid value. */
    private static ShortVector lookUp(ShortVector indices) {
        return indices.reinterpretAsBytes().selectFrom(GRID).reinterpretAsShorts();
    }

    /**
     * Four columns from grid values whose 32-bit lane r holds row r's weights 0, 2, 1 and 3 (byte by byte, low to
     * high) relative to {@code column}.
     */
    private static void valueColumns(IntVector values, FloatVector d, float[] dst, int column, int colStride) {
        for (int k = 0; k < 4; k++) {
            IntVector value = values.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24);
            IntLanes.toFloat(value).mul(d).intoArray(dst, column + BYTE_COLUMN[k] * colStride);
        }
    }

    /** Column of byte k of a strip's 32-bit lane (lane 2r: bytes 4q, 4q + 2; lane 2r + 1: 4q + 1, 4q + 3). */
    private static final int[] BYTE_COLUMN = {0, 2, 1, 3};
}
