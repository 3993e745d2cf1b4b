package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
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
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ4_NL weights eight rows at a time ({@link RowGroupLayout}): {@link NibbleBlockGroups}' scales (the blocks
 * have Q4_0's shape: an F16 scale and 16 bytes of nibbles), each block's nibbles in eight 16-byte chunks, chunk c
 * holding in bytes 2r and 2r + 1 row r's block bytes 2c and 2c + 1 (weights 2c, 2c + 1 in their low nibbles and
 * 2c + 16, 2c + 17 in their high ones).
 *
 * <p>The nibbles index the non-linear grid ({@code kvalues_iq4nl}), looked up sixteen bytes at a time: on x86 a
 * 128-bit byte lookup is one {@code pshufb}, where a 256-bit one, free to cross the vector's halves, takes six
 * instructions. Widening the looked-up bytes to 16-bit lanes sign-extends them in the same step.
 *
 * <p>The arithmetic is llama.cpp's repacked IQ4_NL kernel ({@code ggml_gemv_iq4_nl_8x8_q8_0}, the Q4_0
 * template with the grid as its table): per row and block an exact integer sum S of grid value × activation
 * level, then {@code acc = fma(S, d_w × d_x, acc)} block after block, so the results are bit for bit
 * llama.cpp's.
 */
final class IQ4_NLRowGroups implements RowGroupLayout {
    private static final int ROWS = NibbleBlockGroups.ROWS;
    private static final int QK = NibbleBlockGroups.QK;
    /** The grid in both 128-bit halves, for the 256-bit lookups of both IQ4 formats' panels ({@link #chunkPairColumns}). */
    static final ByteVector GRID = ByteVector.fromArray(ByteVector.SPECIES_256, grid(), 0);
    private static final IQ4_NLFormat IQ4_NL = new IQ4_NLFormat();
    static final VectorSpecies<Integer> I128 = IntVector.SPECIES_128;
    /** The grid as a 128-bit vector: looked up in, it compiles to one {@code pshufb}. */
    static final ByteVector GRID128 = ByteVector.fromArray(ByteVector.SPECIES_128, grid(), 0);
    /** Bytes of a chunk: two of each row's block bytes. */
    private static final long CHUNK = 16;

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
        NibbleBlockGroups.packScales(weight, GgmlType.IQ4_NL, firstRow, dst, offset);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long levels = NibbleBlockGroups.levels(NibbleBlockGroups.pair(offset, b), b);
                long nibbles = NibbleBlockGroups.fileNibbles(row, b);
                for (int k = 0; k < 16; k++) {
                    dst.set(ValueLayouts.I8, levels + CHUNK * (k / 2) + 2 * r + k % 2, src.get(ValueLayouts.I8, nibbles + k));
                }
            }
        }
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
     * <p>A chunk's low nibbles looked up and widened put row r's weights 2c, 2c + 1 in 16-bit lanes 2r, 2r + 1,
     * which meet the activation pair (2c, 2c + 1) broadcast over all lanes ({@link QuantizedActivations#pairVectors()});
     * its high nibbles meet the pair (2c + 16, 2c + 17). The two products are added in 16-bit lanes.
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
     * methods are inlined later. The chunks are written out: C2 keeps a loop over them rolled, with its index
     * arithmetic per chunk.
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
            long levels = NibbleBlockGroups.levels(pair, b);
            int i0 = xOffset / 2 + b * QK / 2;
            IntVector sums = IntVector.zero(IntLanes.I);
            IntVector highs = IntVector.zero(IntLanes.I);
            // selectFrom wraps each index to its low four bits: neither the low nibbles nor the shifted high ones
            // need a mask.
            IntVector v0 = IntVector.fromMemorySegment(I128, packed, levels, ByteOrder.LITTLE_ENDIAN);
            IntVector p0 = ((ShortVector) v0.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 0)))
                    .add(((ShortVector) v0.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 8))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p0);
            highs = highs.add(p0.lanewise(VectorOperators.ASHR, 16));
            IntVector v1 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 1, ByteOrder.LITTLE_ENDIAN);
            IntVector p1 = ((ShortVector) v1.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 1)))
                    .add(((ShortVector) v1.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 9))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p1);
            highs = highs.add(p1.lanewise(VectorOperators.ASHR, 16));
            IntVector v2 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 2, ByteOrder.LITTLE_ENDIAN);
            IntVector p2 = ((ShortVector) v2.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 2)))
                    .add(((ShortVector) v2.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 10))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p2);
            highs = highs.add(p2.lanewise(VectorOperators.ASHR, 16));
            IntVector v3 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 3, ByteOrder.LITTLE_ENDIAN);
            IntVector p3 = ((ShortVector) v3.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 3)))
                    .add(((ShortVector) v3.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 11))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p3);
            highs = highs.add(p3.lanewise(VectorOperators.ASHR, 16));
            IntVector v4 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 4, ByteOrder.LITTLE_ENDIAN);
            IntVector p4 = ((ShortVector) v4.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 4)))
                    .add(((ShortVector) v4.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 12))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p4);
            highs = highs.add(p4.lanewise(VectorOperators.ASHR, 16));
            IntVector v5 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 5, ByteOrder.LITTLE_ENDIAN);
            IntVector p5 = ((ShortVector) v5.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 5)))
                    .add(((ShortVector) v5.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 13))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p5);
            highs = highs.add(p5.lanewise(VectorOperators.ASHR, 16));
            IntVector v6 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 6, ByteOrder.LITTLE_ENDIAN);
            IntVector p6 = ((ShortVector) v6.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 6)))
                    .add(((ShortVector) v6.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 14))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p6);
            highs = highs.add(p6.lanewise(VectorOperators.ASHR, 16));
            IntVector v7 = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * 7, ByteOrder.LITTLE_ENDIAN);
            IntVector p7 = ((ShortVector) v7.reinterpretAsBytes().selectFrom(GRID128).convertShape(VectorOperators.B2S, IntLanes.S, 0))
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 7)))
                    .add(((ShortVector) v7.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                            .convertShape(VectorOperators.B2S, IntLanes.S, 0)).mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 15))))
                    .add(LOW_LANE_BIAS).reinterpretAsInts();
            sums = sums.add(p7);
            highs = highs.add(p7.lanewise(VectorOperators.ASHR, 16));
            IntVector s = sums.sub(highs.mul(65535)).sub(8 * 32768);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(d, acc);
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
     * Four tokens at a time: each chunk's nibbles are looked up and widened once, then meet each token's
     * activation pairs as in {@link #dot}, with the same sums per token, so every value is bit for bit
     * {@link #dot}'s. Fewer tokens run through {@link #dot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(IQ4_NL, xOffset, TOKENS * cols);
        short[] pairs = x.pairVectors();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        int blocks = cols / QK;
        int tokenPairs = cols / 2;
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        FloatVector acc2 = FloatVector.zero(IntLanes.F);
        FloatVector acc3 = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < blocks; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            FloatVector d = NibbleBlockGroups.scales(packed, pair, b);
            long levels = NibbleBlockGroups.levels(pair, b);
            int i0 = xOffset / 2 + b * QK / 2;
            IntVector s0 = IntVector.zero(IntLanes.I);
            IntVector h0 = IntVector.zero(IntLanes.I);
            IntVector s1 = IntVector.zero(IntLanes.I);
            IntVector h1 = IntVector.zero(IntLanes.I);
            IntVector s2 = IntVector.zero(IntLanes.I);
            IntVector h2 = IntVector.zero(IntLanes.I);
            IntVector s3 = IntVector.zero(IntLanes.I);
            IntVector h3 = IntVector.zero(IntLanes.I);
            for (int c = 0; c < 8; c++) {
                IntVector v = IntVector.fromMemorySegment(I128, packed, levels + CHUNK * c, ByteOrder.LITTLE_ENDIAN);
                ShortVector lo = (ShortVector) v.reinterpretAsBytes().selectFrom(GRID128)
                        .convertShape(VectorOperators.B2S, IntLanes.S, 0);
                ShortVector hi = (ShortVector) v.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID128)
                        .convertShape(VectorOperators.B2S, IntLanes.S, 0);
                IntVector p0 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 0 * tokenPairs + c)))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 0 * tokenPairs + c + 8))))
                        .add(LOW_LANE_BIAS).reinterpretAsInts();
                s0 = s0.add(p0);
                h0 = h0.add(p0.lanewise(VectorOperators.ASHR, 16));
                IntVector p1 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 1 * tokenPairs + c)))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 1 * tokenPairs + c + 8))))
                        .add(LOW_LANE_BIAS).reinterpretAsInts();
                s1 = s1.add(p1);
                h1 = h1.add(p1.lanewise(VectorOperators.ASHR, 16));
                IntVector p2 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 2 * tokenPairs + c)))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 2 * tokenPairs + c + 8))))
                        .add(LOW_LANE_BIAS).reinterpretAsInts();
                s2 = s2.add(p2);
                h2 = h2.add(p2.lanewise(VectorOperators.ASHR, 16));
                IntVector p3 = lo.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 3 * tokenPairs + c)))
                        .add(hi.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (i0 + 3 * tokenPairs + c + 8))))
                        .add(LOW_LANE_BIAS).reinterpretAsInts();
                s3 = s3.add(p3);
                h3 = h3.add(p3.lanewise(VectorOperators.ASHR, 16));
            }
            acc0 = ((FloatVector) s0.sub(h0.mul(65535)).sub(8 * 32768).convert(VectorOperators.I2F, 0))
                    .fma(d.mul(scales[xBlock + 0 * blocks + b]), acc0);
            acc1 = ((FloatVector) s1.sub(h1.mul(65535)).sub(8 * 32768).convert(VectorOperators.I2F, 0))
                    .fma(d.mul(scales[xBlock + 1 * blocks + b]), acc1);
            acc2 = ((FloatVector) s2.sub(h2.mul(65535)).sub(8 * 32768).convert(VectorOperators.I2F, 0))
                    .fma(d.mul(scales[xBlock + 2 * blocks + b]), acc2);
            acc3 = ((FloatVector) s3.sub(h3.mul(65535)).sub(8 * 32768).convert(VectorOperators.I2F, 0))
                    .fma(d.mul(scales[xBlock + 3 * blocks + b]), acc3);
        }
        acc0.intoArray(out, outOffset);
        acc1.intoArray(out, outOffset + outStride);
        acc2.intoArray(out, outOffset + 2 * outStride);
        acc3.intoArray(out, outOffset + 3 * outStride);
    }

    /** 32768 in the low 16-bit lane of every 32-bit lane, 0 in the high one (IQ4_XS's kernel adds it too). */
    static final ShortVector LOW_LANE_BIAS = IntVector.broadcast(IntLanes.I, 0x8000).reinterpretAsShorts();

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride);
            return;
        }
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            long levels = NibbleBlockGroups.levels(pair, b);
            for (int r = 0; r < ROWS; r++) {
                float d = QuantVectors.f16(packed, NibbleBlockGroups.scale(pair, r, b));
                for (int k = 0; k < 16; k++) {
                    int v = QuantVectors.u8(packed, levels + CHUNK * (k / 2) + 2 * r + k % 2);
                    int c = dstOffset + r * rowStride + (b * QK + k) * colStride;
                    dst[c] = d * KQuantMath.IQ4NL_VALUES[v & 0x0F];
                    dst[c + 16 * colStride] = d * KQuantMath.IQ4NL_VALUES[v >> 4];
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels), two chunks at a time
     * ({@link #chunkPairColumns}).
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        float[] factors = new float[ROWS];
        for (int b = 0; b < cols / QK; b++) {
            long pair = NibbleBlockGroups.pair(offset, b);
            NibbleBlockGroups.scales(packed, pair, b).intoArray(factors, 0);
            long levels = NibbleBlockGroups.levels(pair, b);
            for (int c = 0; c < 8; c += 2) {
                chunkPairColumns(packed, levels + CHUNK * c, factors, dst, dstOffset + (b * QK + 2 * c) * colStride,
                        colStride, 16 * colStride);
            }
        }
    }

    /** Chunk c's 16-bit lane r beside chunk c + 1's (so that 32-bit lane r holds four of row r's bytes). */
    private static final VectorShuffle<Short> ROW_WORDS = VectorShuffle.fromOp(IntLanes.S, i -> (i % 2) * 8 + i / 2);

    /**
     * Columns of the two chunks at {@code at} (low nibbles: chunk c's bytes, then chunk c + 1's) to
     * {@code dst[first + k·step]}, k = 0..3, and their high nibbles' {@code high} further on, each value the
     * grid value times row r's {@code factors[r]}. Both chunks' 16-bit lanes are interleaved by row first,
     * which puts row r's four bytes in 32-bit lane r, and looked up in one 256-bit lookup: no lane
     * conversions, which measured four times slower here once other code in the process had converted other
     * shapes. IQ4_XS's panels come this way too.
     */
    static void chunkPairColumns(MemorySegment packed, long at, float[] factors, float[] dst, int first, int step,
                                 int high) {
        FloatVector d = FloatVector.fromArray(IntLanes.F, factors, 0);
        IntVector rows = ShortVector.fromMemorySegment(IntLanes.S, packed, at, ByteOrder.LITTLE_ENDIAN).rearrange(ROW_WORDS)
                .reinterpretAsInts();
        // GRID repeats the grid in both halves, so the lookup's wrapping to 0..31 also drops the nibble above.
        IntVector low = rows.reinterpretAsBytes().selectFrom(GRID).reinterpretAsInts();
        IntVector up = rows.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(GRID).reinterpretAsInts();
        for (int k = 0; k < 4; k++) {
            IntLanes.smallToFloat(low.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24))
                    .mul(d).intoArray(dst, first + k * step);
            IntLanes.smallToFloat(up.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24))
                    .mul(d).intoArray(dst, first + k * step + high);
        }
    }
}
