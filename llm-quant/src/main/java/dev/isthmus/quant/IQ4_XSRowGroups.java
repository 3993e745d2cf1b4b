package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IQ4_XS weights eight rows at a time ({@link RowGroupLayout}), laid out so that the kernel needs only full
 * 256-bit loads, byte table lookups, lane-wise integer arithmetic and reinterpretations.
 *
 * <p>A super-block column of the group takes 1120 bytes, the eight rows' 1088 and 32 more (d widened, the
 * sub-block scales unpacked):
 * <ul>
 *   <li>32 bytes: 32-bit lane r holds row r's d as a float (exactly its F16 value);
 *   <li>64 bytes: two vectors, byte k of lane r of vector v holding row r's sub-block scale of sub-block 4v + k
 *       less 32 (ls − 32 in [−32, 31]) as a signed byte;
 *   <li>1024 bytes: per sub-block ib (32 weights) four 32-byte strips; in strip q, 32-bit lane r holds row r's
 *       bytes {@code qs[16ib + 4q .. 16ib + 4q + 3]} as they lie in the file.
 * </ul>
 * The activations are the k-quants' own Q8_K levels (even/odd order within every 32) paired as they lie
 * ({@link QuantizedActivations#pairLevels}) and broadcast as vectors ({@link QuantizedActivations#pairVectors}):
 * pair p of a 32-run holds elements (4p, 4p + 2) for p &lt; 8 and (4(p − 8) + 1, 4(p − 8) + 3) from there on. In a
 * strip, 16-bit lane 2r holds bytes 4q, 4q + 1 and lane 2r + 1 bytes 4q + 2, 4q + 3, so looked up through the
 * grid, the low bytes of the two lanes are weights (4q, 4q + 2) from the low nibbles and (4q + 16, 4q + 18) from
 * the high ones, the high bytes (4q + 1, 4q + 3) and (4q + 17, 4q + 19): exactly pairs q, q + 4, q + 8 and q + 12.
 *
 * <p>llama.cpp does not repack IQ4_XS on x86. Its {@code ggml_vec_dot_iq4_xs_q8_K} (and
 * {@link IQ4_XSFormat#dotQuantized}) sums per row and super-block the integers S = Σ_ib (ls_ib − 32) × Σ grid ×
 * activation level. Here S is the same integer, taken whole, and each row keeps one running float sum
 * {@code acc = acc + float(S) × (d·d_x)} (a multiplication and an addition, not an FMA), super-block after
 * super-block: the very float steps of the format's scalar integer twin ({@link IQ4_XSFormat#dotQuantizedScalar}),
 * so the two agree bit for bit.
 */
final class IQ4_XSRowGroups implements RowGroupLayout {
    private static final int ROWS = 8;
    private static final int QK = 256;
    private static final int SCALES = 32;
    private static final int LEVELS = SCALES + 64;
    private static final int BLOCK_BYTES = LEVELS + 8 * 128;
    private static final int LOW_NIBBLES = 0x0F0F_0F0F;
    /** The low byte of each 16-bit half. */
    private static final int LOW_BYTES = 0x00FF_00FF;
    /** The grid + 128 as unsigned bytes (stored as their signed bit patterns), in both 128-bit halves. */
    private static final ByteVector BIASED_GRID = IQ4_NLRowGroups.GRID.add((byte) 128);
    /** 32768 in the low 16-bit lane of every 32-bit lane, 0 in the high one. */
    private static final ShortVector LOW_LANE_BIAS = IntVector.broadcast(IntLanes.I, 0x8000).reinterpretAsShorts();
    private static final IQ4_XSFormat IQ4_XS = new IQ4_XSFormat();

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
        return RowGroupFit.fits(weight, GgmlType.IQ4_XS, 0);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.IQ4_XS, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * IQ4_XSFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                dst.set(ValueLayouts.F32, to + 4L * r, Half.f16ToFloat(src.get(ValueLayouts.I16, from)));
                int scalesH = src.get(ValueLayouts.I16, from + 2) & 0xFFFF;
                int scalesL = src.get(ValueLayouts.I32, from + 4);
                for (int ib = 0; ib < 8; ib++) {
                    int ls = ((scalesL >>> (4 * ib)) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                    dst.set(ValueLayouts.I8, to + SCALES + 32L * (ib / 4) + 4L * r + ib % 4, (byte) (ls - 32));
                }
                for (int s = 0; s < 32; s++) {
                    dst.set(ValueLayouts.I32, to + LEVELS + 32L * s + 4L * r, src.get(ValueLayouts.I32, from + 8 + 4 * s));
                }
            }
        }
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        IQ4_XS.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per row and sub-block the exact integer Σ grid value × activation level (in 32-bit lane r), times the row's
     * ls − 32, summed over the super-block into S; then {@code acc = acc + float(S) × (d·d_x)}.
     *
     * <p>Strip q of sub-block ib: its nibbles looked up through the grid biased by +128, so that a value is taken
     * out of its 16-bit lane as an unsigned byte by a mask (after a shift of 32-bit lanes for the high byte) and
     * made signed by subtracting 128 — fewer operations than sign-extending in place, and 32-bit lanes shift by
     * an immediate count where C2 moves a 16-bit lane shift's count through a register each time (the high bytes
     * sign-extended by a 16-bit shift instead measured 7.3 against 7.6 GB/s).
     *
     * <p>Overflow: a grid value (−127..113) times an activation level (−127..127) is at most 16129 in magnitude,
     * two of them 32258, which a signed 16-bit lane holds; a third might not. So two products are summed in 16
     * bits and the pair is widened by IQ4_NL's bias trick ({@link IQ4_NLRowGroups#dot}): the low 16-bit lane gets
     * 32768 added, so the 32-bit lane reads exactly 65536·hi + lo + 32768; eight of those summed (wrapping) as Y
     * and their high halves as H give the row's sub-block sum Y − 65535·H − 8·32768, exact because it is exact
     * modulo 2^32 and its true value, at most 32 × 16129 = 516128 in magnitude, fits an int. Times |ls − 32| ≤ 32
     * and over eight sub-blocks, |S| ≤ 8 × 32 × 516128 &lt; 2^27, also an int (the conversion to float rounds
     * beyond 2^24, as the format's own kernels' conversions do).
     *
     * <p>Written with Vector API calls only and more than 325 bytecodes ({@code KernelInliningTest}): helpers of
     * our own that take or return vectors may be left calls by C2 and box their vectors, and a kernel small
     * enough to be inlined into the backend's loop beside another format's exhausts C2's node budget there.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(IQ4_XS, xOffset, cols);
        short[] pairs = x.pairVectors();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        IntVector s = IntVector.zero(IntLanes.I);
        // One flat loop over the row's sub-blocks, the super-block's float step after every eighth, and the four
        // strips of a sub-block written out: nested (super-blocks, then sub-blocks, then strips) C2 ran the same
        // work at 6.0 against 7.1 GB/s on one thread (4096 × 4096, Zen 3), with the strips written out inside the
        // nested loops at 3.5, and flat with a loop over the strips at 5.5.
        for (int j = 0; j < cols / 32; j++) {
            int ib = j & 7;
            long block = offset + (long) (j >> 3) * BLOCK_BYTES;
            long strips = block + LEVELS + 128L * ib;
            // Pair vectors of the sub-block's 32-run (16 of 16 shorts): strip q's lanes meet pairs q, q + 8 (low
            // nibbles' low and high bytes) and q + 4, q + 12 (high nibbles'). Written from the super-block and
            // sub-block, not as the equal 256 · (xOffset / 32 + j): with the index linear in j, C2 compiled the loop
            // otherwise (presumably split for its range checks) and it ran at 7.0 against 7.5 GB/s.
            int p = 256 * (8 * (xBlock + (j >> 3)) + ib);
            // Eight biased 32-bit lanes are added per row: their 8 × 32768 taken off at the start.
            IntVector sums = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs = IntVector.zero(IntLanes.I);
            IntVector v0 = IntVector.fromMemorySegment(IntLanes.I, packed, strips, ByteOrder.LITTLE_ENDIAN);
            IntVector low0 = v0.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high0 = v0.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first0 = low0.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p))
                    .add(low0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 128)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second0 = high0.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 64))
                    .add(high0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 192)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first0).add(second0);
            highs = highs.add(first0.lanewise(VectorOperators.ASHR, 16)).add(second0.lanewise(VectorOperators.ASHR, 16));
            IntVector v1 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L, ByteOrder.LITTLE_ENDIAN);
            IntVector low1 = v1.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high1 = v1.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first1 = low1.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16))
                    .add(low1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 144)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second1 = high1.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 80))
                    .add(high1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 208)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first1).add(second1);
            highs = highs.add(first1.lanewise(VectorOperators.ASHR, 16)).add(second1.lanewise(VectorOperators.ASHR, 16));
            IntVector v2 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector low2 = v2.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high2 = v2.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first2 = low2.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32))
                    .add(low2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 160)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second2 = high2.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 96))
                    .add(high2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 224)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first2).add(second2);
            highs = highs.add(first2.lanewise(VectorOperators.ASHR, 16)).add(second2.lanewise(VectorOperators.ASHR, 16));
            IntVector v3 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 96L, ByteOrder.LITTLE_ENDIAN);
            IntVector low3 = v3.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector high3 = v3.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                    .selectFrom(BIASED_GRID).reinterpretAsInts();
            IntVector first3 = low3.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48))
                    .add(low3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 176)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            IntVector second3 = high3.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 112))
                    .add(high3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 240)))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(first3).add(second3);
            highs = highs.add(first3.lanewise(VectorOperators.ASHR, 16)).add(second3.lanewise(VectorOperators.ASHR, 16));
            // Row r's ls − 32 of sub-block ib: byte ib % 4 of lane r of scale vector ib / 4, sign-extended.
            IntVector scale = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (ib >> 2),
                            ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 24 - 8 * (ib & 3)).lanewise(VectorOperators.ASHR, 24);
            s = s.add(sums.sub(highs.mul(65535)).mul(scale));
            if (ib == 7) {
                FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN)
                        .mul(scales[xBlock + (j >> 3)]);
                // The scalar twin's steps: float(S) × (d·d_x) rounded, then added (no FMA).
                acc = acc.add(((FloatVector) s.convert(VectorOperators.I2F, 0)).mul(d));
                s = IntVector.zero(IntLanes.I);
            }
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
            long block = offset + (long) b * BLOCK_BYTES;
            for (int r = 0; r < ROWS; r++) {
                float d = packed.get(ValueLayouts.F32, block + 4L * r);
                int y = dstOffset + r * rowStride;
                for (int ib = 0; ib < 8; ib++) {
                    // As the format's decoders round: d·(ls − 32) first, then times the grid value.
                    float dl = d * packed.get(ValueLayouts.I8, block + SCALES + 32L * (ib / 4) + 4L * r + ib % 4);
                    for (int j = 0; j < 16; j++) {
                        int v = QuantVectors.u8(packed, block + LEVELS + 128L * ib + 32L * (j / 4) + 4L * r + j % 4);
                        dst[y + (b * QK + 32 * ib + j) * colStride] = dl * KQuantMath.IQ4NL_VALUES[v & 0x0F];
                        dst[y + (b * QK + 32 * ib + 16 + j) * colStride] = dl * KQuantMath.IQ4NL_VALUES[v >> 4];
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): a strip's nibbles looked up
     * through the grid leave in byte k of lane r row r's weight 4q + k (low nibbles) or 4q + 16 + k (high
     * nibbles), sign-extended by two shifts; each value is (d·(ls − 32))·grid value, rounded as the format's own
     * decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
            for (int ib = 0; ib < 8; ib++) {
                IntVector scale = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (ib >> 2),
                                ByteOrder.LITTLE_ENDIAN)
                        .lanewise(VectorOperators.LSHL, 24 - 8 * (ib & 3)).lanewise(VectorOperators.ASHR, 24);
                FloatVector dl = d.mul(IntLanes.smallToFloat(scale));
                for (int q = 0; q < 4; q++) {
                    IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 128L * ib + 32L * q,
                            ByteOrder.LITTLE_ENDIAN);
                    IntVector low = v.and(LOW_NIBBLES).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID).reinterpretAsInts();
                    IntVector high = v.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsBytes()
                            .selectFrom(IQ4_NLRowGroups.GRID).reinterpretAsInts();
                    int column = dstOffset + (b * QK + 32 * ib + 4 * q) * colStride;
                    for (int k = 0; k < 4; k++) {
                        IntLanes.smallToFloat(low.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24))
                                .mul(dl).intoArray(dst, column + k * colStride);
                        IntLanes.smallToFloat(high.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24))
                                .mul(dl).intoArray(dst, column + (16 + k) * colStride);
                    }
                }
            }
        }
    }
}
