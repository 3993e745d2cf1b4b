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
 * IQ4_XS weights eight rows at a time ({@link RowGroupLayout}), laid out so that the kernel needs only plain
 * loads, 128-bit byte table lookups (one {@code pshufb} each, {@link IQ4_NLRowGroups}), their widening to 16-bit
 * lanes, lane-wise integer arithmetic and reinterpretations.
 *
 * <p>A super-block column of the group takes 1120 bytes, the eight rows' 1088 and 32 more (d widened, the
 * sub-block scales unpacked):
 * <ul>
 *   <li>32 bytes: 32-bit lane r holds row r's d as a float (exactly its F16 value);
 *   <li>64 bytes: two vectors, byte k of lane r of vector v holding row r's sub-block scale of sub-block 4v + k
 *       less 32 (ls − 32 in [−32, 31]) as a signed byte;
 *   <li>1024 bytes: per sub-block ib (32 weights) eight 16-byte chunks; chunk c holds in bytes 2r, 2r + 1 row r's
 *       bytes {@code qs[16ib + k]} and {@code qs[16ib + k + 2]}, k = 4c for c &lt; 4 and 4(c − 4) + 1 from there on.
 * </ul>
 * The activations are the k-quants' own Q8_K levels (even/odd order within every 32) paired as they lie
 * ({@link QuantizedActivations#pairLevels}) and broadcast as vectors ({@link QuantizedActivations#pairVectors}):
 * pair p of a 32-run holds elements (4p, 4p + 2) for p &lt; 8 and (4(p − 8) + 1, 4(p − 8) + 3) from there on. A
 * chunk's low nibbles, looked up and widened, put in 16-bit lanes 2r, 2r + 1 row r's weights (k, k + 2), and its
 * high nibbles (k + 16, k + 18): pairs c and c + 4 for c &lt; 4, c + 4 and c + 8 from there on.
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
                for (int ib = 0; ib < 8; ib++) {
                    for (int c = 0; c < 8; c++) {
                        long chunk = to + LEVELS + 128L * ib + 16L * c + 2L * r;
                        dst.set(ValueLayouts.I8, chunk, src.get(ValueLayouts.I8, from + 8 + 16 * ib + firstByte(c)));
                        dst.set(ValueLayouts.I8, chunk + 1, src.get(ValueLayouts.I8, from + 8 + 16 * ib + firstByte(c) + 2));
                    }
                }
            }
        }
    }

    /**
     * Which of a row's sixteen sub-block bytes chunk c takes first (the second is two further on): bytes 4c, 4c + 2
     * for c &lt; 4, then 4(c − 4) + 1, 4(c − 4) + 3 — weights that meet one activation pair.
     */
    private static int firstByte(int c) {
        return c < 4 ? 4 * c : 4 * (c - 4) + 1;
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
     * <p>Chunk c of sub-block ib: its low and its high nibbles each looked up in the grid sixteen bytes at a time
     * and widened (sign-extended) to 16-bit lanes, each lane multiplied by its activation level.
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
        // One flat loop over the row's sub-blocks, the super-block's float step after every eighth, and the
        // pieces of a sub-block written out: nested (super-blocks, then sub-blocks, then pieces) C2 ran the same
        // work at 6.0 against 7.1 GB/s on one thread (4096 × 4096, Zen 3), with the pieces written out inside the
        // nested loops at 3.5, and flat with a loop over the pieces at 5.5 (measured with 32-byte strips).
        for (int j = 0; j < cols / 32; j++) {
            int ib = j & 7;
            long block = offset + (long) (j >> 3) * BLOCK_BYTES;
            long levels = block + LEVELS + 128L * ib;
            // Pair vectors of the sub-block's 32-run (16 of 16 shorts): chunk c's low nibbles meet pair c (c < 4) or
            // c + 4, its high nibbles the pair four further on. Written from the super-block and
            // sub-block, not as the equal 256 · (xOffset / 32 + j): with the index linear in j, C2 compiled the loop
            // otherwise (presumably split for its range checks) and it ran at 7.0 against 7.5 GB/s.
            int p = 256 * (8 * (xBlock + (j >> 3)) + ib);
            // Eight biased 32-bit lanes are added per row: their 8 × 32768 taken off at the start.
            IntVector sums = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs = IntVector.zero(IntLanes.I);
            // selectFrom wraps each index to its low four bits: neither the low nibbles nor the shifted high ones
            // need a mask.
            IntVector v0 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels, ByteOrder.LITTLE_ENDIAN);
            IntVector p0 = ((ShortVector) v0.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 0))
                    .add(((ShortVector) v0.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 64)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p0);
            highs = highs.add(p0.lanewise(VectorOperators.ASHR, 16));
            IntVector v1 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 16L, ByteOrder.LITTLE_ENDIAN);
            IntVector p1 = ((ShortVector) v1.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16))
                    .add(((ShortVector) v1.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 80)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p1);
            highs = highs.add(p1.lanewise(VectorOperators.ASHR, 16));
            IntVector v2 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 32L, ByteOrder.LITTLE_ENDIAN);
            IntVector p2 = ((ShortVector) v2.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32))
                    .add(((ShortVector) v2.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 96)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p2);
            highs = highs.add(p2.lanewise(VectorOperators.ASHR, 16));
            IntVector v3 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 48L, ByteOrder.LITTLE_ENDIAN);
            IntVector p3 = ((ShortVector) v3.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48))
                    .add(((ShortVector) v3.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 112)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p3);
            highs = highs.add(p3.lanewise(VectorOperators.ASHR, 16));
            IntVector v4 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector p4 = ((ShortVector) v4.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 128))
                    .add(((ShortVector) v4.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 192)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p4);
            highs = highs.add(p4.lanewise(VectorOperators.ASHR, 16));
            IntVector v5 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 80L, ByteOrder.LITTLE_ENDIAN);
            IntVector p5 = ((ShortVector) v5.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 144))
                    .add(((ShortVector) v5.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 208)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p5);
            highs = highs.add(p5.lanewise(VectorOperators.ASHR, 16));
            IntVector v6 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 96L, ByteOrder.LITTLE_ENDIAN);
            IntVector p6 = ((ShortVector) v6.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 160))
                    .add(((ShortVector) v6.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 224)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p6);
            highs = highs.add(p6.lanewise(VectorOperators.ASHR, 16));
            IntVector v7 = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 112L, ByteOrder.LITTLE_ENDIAN);
            IntVector p7 = ((ShortVector) v7.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 176))
                    .add(((ShortVector) v7.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, p + 240)))
                    .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p7);
            highs = highs.add(p7.lanewise(VectorOperators.ASHR, 16));
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
    public int tokensPerCall() {
        return TOKENS;
    }

    /** Tokens one {@link #dotTokens} call multiplies with each chunk's looked-up weights. */
    private static final int TOKENS = 4;

    /**
     * 4 tokens at a time: each chunk's nibbles are looked up and widened once, then meet each token's activation
     * pairs as in {@link #dot}, with the same integer sums and float steps per token, so every value is bit for bit
     * {@link #dot}'s. Other counts run through {@link #dot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(IQ4_XS, xOffset, TOKENS * cols);
        short[] pairs = x.pairVectors();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        int blocks = cols / QK;
        // Shorts of one token's pair vectors: 16 for each of its cols / 2 pairs.
        int tokenShorts = 8 * cols;
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        IntVector s0 = IntVector.zero(IntLanes.I);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        IntVector s1 = IntVector.zero(IntLanes.I);
        FloatVector acc2 = FloatVector.zero(IntLanes.F);
        IntVector s2 = IntVector.zero(IntLanes.I);
        FloatVector acc3 = FloatVector.zero(IntLanes.F);
        IntVector s3 = IntVector.zero(IntLanes.I);
        for (int j = 0; j < cols / 32; j++) {
            int ib = j & 7;
            long block = offset + (long) (j >> 3) * BLOCK_BYTES;
            long levels = block + LEVELS + 128L * ib;
            int p = 256 * (8 * (xBlock + (j >> 3)) + ib);
            IntVector sums0 = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs0 = IntVector.zero(IntLanes.I);
            IntVector sums1 = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs1 = IntVector.zero(IntLanes.I);
            IntVector sums2 = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs2 = IntVector.zero(IntLanes.I);
            IntVector sums3 = IntVector.broadcast(IntLanes.I, -8 * 32768);
            IntVector highs3 = IntVector.zero(IntLanes.I);
            for (int c = 0; c < 8; c++) {
                // Chunk c's low nibbles meet pair c (c < 4) or c + 4, its high nibbles the pair four further on.
                int pc = c + (c & 4);
                IntVector v = IntVector.fromMemorySegment(IQ4_NLRowGroups.I128, packed, levels + 16L * c, ByteOrder.LITTLE_ENDIAN);
                ShortVector lo = (ShortVector) v.reinterpretAsBytes().selectFrom(IQ4_NLRowGroups.GRID128)
                        .convertShape(VectorOperators.B2S, IntLanes.S, 0);
                ShortVector hi = (ShortVector) v.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes()
                        .selectFrom(IQ4_NLRowGroups.GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0);
                IntVector p0 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 0 * tokenShorts + 16 * pc))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 0 * tokenShorts + 16 * pc + 64)))
                        .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
                sums0 = sums0.add(p0);
                highs0 = highs0.add(p0.lanewise(VectorOperators.ASHR, 16));
                IntVector p1 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 1 * tokenShorts + 16 * pc))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 1 * tokenShorts + 16 * pc + 64)))
                        .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
                sums1 = sums1.add(p1);
                highs1 = highs1.add(p1.lanewise(VectorOperators.ASHR, 16));
                IntVector p2 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 2 * tokenShorts + 16 * pc))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 2 * tokenShorts + 16 * pc + 64)))
                        .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
                sums2 = sums2.add(p2);
                highs2 = highs2.add(p2.lanewise(VectorOperators.ASHR, 16));
                IntVector p3 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 3 * tokenShorts + 16 * pc))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, p + 3 * tokenShorts + 16 * pc + 64)))
                        .add(IQ4_NLRowGroups.LOW_LANE_BIAS).reinterpretAsInts();
                sums3 = sums3.add(p3);
                highs3 = highs3.add(p3.lanewise(VectorOperators.ASHR, 16));
            }
            IntVector scale = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (ib >> 2),
                            ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 24 - 8 * (ib & 3)).lanewise(VectorOperators.ASHR, 24);
            s0 = s0.add(sums0.sub(highs0.mul(65535)).mul(scale));
            s1 = s1.add(sums1.sub(highs1.mul(65535)).mul(scale));
            s2 = s2.add(sums2.sub(highs2.mul(65535)).mul(scale));
            s3 = s3.add(sums3.sub(highs3.mul(65535)).mul(scale));
            if (ib == 7) {
                FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
                acc0 = acc0.add(((FloatVector) s0.convert(VectorOperators.I2F, 0))
                        .mul(d.mul(scales[xBlock + 0 * blocks + (j >> 3)])));
                s0 = IntVector.zero(IntLanes.I);
                acc1 = acc1.add(((FloatVector) s1.convert(VectorOperators.I2F, 0))
                        .mul(d.mul(scales[xBlock + 1 * blocks + (j >> 3)])));
                s1 = IntVector.zero(IntLanes.I);
                acc2 = acc2.add(((FloatVector) s2.convert(VectorOperators.I2F, 0))
                        .mul(d.mul(scales[xBlock + 2 * blocks + (j >> 3)])));
                s2 = IntVector.zero(IntLanes.I);
                acc3 = acc3.add(((FloatVector) s3.convert(VectorOperators.I2F, 0))
                        .mul(d.mul(scales[xBlock + 3 * blocks + (j >> 3)])));
                s3 = IntVector.zero(IntLanes.I);
            }
        }
        acc0.intoArray(out, outOffset + 0 * outStride);
        acc1.intoArray(out, outOffset + 1 * outStride);
        acc2.intoArray(out, outOffset + 2 * outStride);
        acc3.intoArray(out, outOffset + 3 * outStride);
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
                    for (int c = 0; c < 8; c++) {
                        for (int t = 0; t < 2; t++) {
                            int v = QuantVectors.u8(packed, block + LEVELS + 128L * ib + 16L * c + 2L * r + t);
                            int j = firstByte(c) + 2 * t;
                            dst[y + (b * QK + 32 * ib + j) * colStride] = dl * KQuantMath.IQ4NL_VALUES[v & 0x0F];
                            dst[y + (b * QK + 32 * ib + 16 + j) * colStride] = dl * KQuantMath.IQ4NL_VALUES[v >> 4];
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): a chunk's nibbles looked up
     * through the grid ({@link IQ4_NLRowGroups#chunkPairColumns}); each value is (d·(ls − 32))·grid value, rounded as
     * the format's own decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        float[] factors = new float[ROWS];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
            for (int ib = 0; ib < 8; ib++) {
                IntVector scale = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (ib >> 2),
                                ByteOrder.LITTLE_ENDIAN)
                        .lanewise(VectorOperators.LSHL, 24 - 8 * (ib & 3)).lanewise(VectorOperators.ASHR, 24);
                d.mul(IntLanes.smallToFloat(scale)).intoArray(factors, 0);
                for (int c = 0; c < 8; c += 2) {
                    // Chunks c, c + 1 hold bytes k, k + 2, k + 4, k + 6 (k = firstByte(c)).
                    IQ4_NLRowGroups.chunkPairColumns(packed, block + LEVELS + 128L * ib + 16L * c, factors, dst,
                            dstOffset + (b * QK + 32 * ib + firstByte(c)) * colStride, 2 * colStride, 16 * colStride);
                }
            }
        }
    }
}
