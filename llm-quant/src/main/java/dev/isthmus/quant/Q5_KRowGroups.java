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
 * Q5_K weights eight rows at a time ({@link RowGroupLayout}): {@link Q4_KRowGroups}' d, dmin and (scale, min)
 * bytes, then every level whole or nearly so. A super-block column takes 1408 bytes, as many as the eight rows'
 * own super-blocks:
 * <ul>
 *   <li>128 bytes as Q4_K's column: d and dmin, and the (scale, min) bytes;
 *   <li>1024 bytes: four runs c of eight 32-byte strips q. 16-bit lane 2r + e of strip (c, q) holds row r's
 *       levels of weights m = 4q + 2e and m + 1 of sub-block 2c in bits 0-4 and 5-9, of weight m of
 *       sub-block 2c + 1 in bits 10-14, and the fifth bit of its weight m + 1 in bit 15;
 *   <li>256 bytes: per run, two 32-byte planes h for those last levels (weight m + 1 of sub-block 2c + 1),
 *       strip 4h + k's in nibble k of each 16-bit lane ({@link #packHalfRun}).
 * </ul>
 * Q4_K's nibble strips with the fifth bits in strips beside them, as this layout was first, cost about twice
 * Q4_K's lane operations to join nibble and bit before every product: here three levels of four come out of a
 * strip with one shift and one mask, as Q4_K's nibbles do, and the fourth with one more XOR of the plane, 18
 * lane operations per strip against Q4_K's 15. One thread on a 4096 × 4096 matrix, in one run: 10.2 GB/s of
 * file bytes against 7.0 before, Q4_K's group kernel 10.0.
 * Each level vector multiplies one broadcast activation pair, as in Q4_K's kernel ({@code pairLevels}), and
 * every row's products pile up lane-wise.
 *
 * <p>llama.cpp does not repack Q5_K; its {@code ggml_vec_dot_q5_K_q8_K} sums the same integers per super-block
 * (S = Σ scale_j × Σ level × activation level, M = Σ min_j × activation sums) but adds its float lanes in another
 * order, so results agree with it to float rounding. Here each row keeps one running {@code fma(S, d·d_x)} and one
 * for the minimums, as the Q4_K group kernel does.
 */
final class Q5_KRowGroups implements RowGroupLayout {
    private static final int ROWS = 8;
    private static final int QK = 256;
    /** Where the planes start in a super-block column. */
    private static final int PLANES = Q4_KRowGroups.BLOCK_BYTES;
    private static final int BLOCK_BYTES = PLANES + 8 * 32;
    /** A 5-bit level at the bottom of each 16-bit half of a 32-bit lane. */
    private static final int LEVEL = 0x001F_001F;
    private static final float TWO_POW_112 = 0x1p112f;
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
        // Each file block is copied to the heap once, its levels then read from there rather than byte by byte
        // from the mapped segment, each read checked (loading the 0.5 B Q5_K_M model: 1.14-1.31 s before,
        // 0.76-0.79 after).
        byte[] file = new byte[Q5_KFormat.BLOCK_BYTES];
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q5_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                Q4_KRowGroups.packScales(src, from, dst, to, r);
                MemorySegment.copy(src, ValueLayouts.I8, from, file, 0, file.length);
                for (int c = 0; c < 4; c++) {
                    for (int h = 0; h < 2; h++) {
                        packHalfRun(file, dst, to, r, c, h);
                    }
                }
            }
        }
    }

    /**
     * Row r's strips 4h..4h+3 of run c and their plane. The kernel reads a fourth level as
     * {@code (strip >>> 11 ^ plane >>> 4k) & 0x1F} in each 16-bit half, one XOR where masking nibble and bit apart
     * before joining them took two operations more: so the plane's nibble is the level's low bits XOR the third
     * level's top four (strip bits 11-14), and strip bit 15 its fifth bit XOR the plane bit that lands above the
     * nibble (the next strip's lowest, or 0 past the 32-bit lane).
     */
    private static void packHalfRun(byte[] file, MemorySegment dst, long to, int r, int c, int h) {
        int[] words = new int[4];
        int[] fourth = new int[4];
        int plane = 0;
        for (int k = 0; k < 4; k++) {
            for (int e = 0; e < 2; e++) {
                int m = 4 * (4 * h + k) + 2 * e;
                int third = fileLevel(file, 2 * c + 1, m);
                int last = fileLevel(file, 2 * c + 1, m + 1);
                words[k] |= (fileLevel(file, 2 * c, m) | fileLevel(file, 2 * c, m + 1) << 5 | third << 10) << 16 * e;
                fourth[k] |= (last >> 4) << 15 + 16 * e;
                plane |= ((last ^ third >> 1) & 0xF) << 4 * k + 16 * e;
            }
        }
        for (int k = 0; k < 4; k++) {
            long beside = (plane & 0xFFFF_FFFFL) >>> 4 * k + 4;
            int word = words[k] | fourth[k] ^ (int) (beside << 15 & 0x8000 | beside << 15 & 0x8000_0000L);
            dst.set(ValueLayouts.I32, Q4_KRowGroups.strip(to, c, 4 * h + k) + 4L * r, word);
        }
        dst.set(ValueLayouts.I32, plane(to, c, h) + 4L * r, plane);
    }

    /** Level m of sub-block j in the file's block at {@code from}: its nibble of {@code qs}, its bit j of {@code qh}. */
    private static int fileLevel(byte[] block, int j, int m) {
        int nibble = block[48 + 32 * (j / 2) + m] >> 4 * (j % 2) & 0xF;
        return nibble | (block[16 + m] >> j & 1) << 4;
    }

    /** Where plane {@code h} of run {@code c} starts in the super-block column at byte {@code block}. */
    private static long plane(long block, int c, int h) {
        return block + PLANES + 64L * c + 32L * h;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q5_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        Q4_KRowGroups.stripOrder(dst.pairs(), count / 2);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Per super-block, S = Σ_j scale_j × Σ level × activation level per row. Strip t (strip t % 8 of run t / 8)
     * gives, per 16-bit lane, the levels of two weights of sub-block 2c and two of 2c + 1 with a shift and a mask
     * each, the last one XORed with the run's plane, which moves on by a nibble per strip. A product is at most
     * 31 × 128, so 16-bit lanes take four strips (8 products, at most 31744) before they are widened. Then, as
     * in Q4_K's group kernel, {@code acc = fma(S, d·d_x, acc)} and {@code accMin = fma(M, dmin·d_x, accMin)}.
     *
     * <p>One loop over the super-block's 32 strips (pairs in {@link Q4_KRowGroups#stripOrder}) and the running
     * sums kept in registers: 13.1 against 10.6 GB/s on one thread (4096 × 4096) for a loop per run and a call
     * per super-block for the float steps, with the same results bit for bit. Writing a run's strips out was
     * slower.
     *
     * <p>Written with Vector API calls only: past C2's parse-time node budget a helper of our own is left a call
     * and its vectors are boxed.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q5_K, xOffset, cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] xScales = x.scales();
        FloatVector acc = FloatVector.zero(IntLanes.F);
        FloatVector accMin = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES, ByteOrder.LITTLE_ENDIAN);
            IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES + 64, ByteOrder.LITTLE_ENDIAN);
            // Eight 6-bit scales per row, four per word: sub-blocks 0..3, then 4..7 (ggml's utmp).
            IntVector first = u0.and(0x3F3F3F3F);
            IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector sum = IntVector.zero(IntLanes.I);
            IntVector lowPairs = IntVector.zero(IntLanes.I);
            IntVector highPairs = IntVector.zero(IntLanes.I);
            ShortVector low = ShortVector.zero(IntLanes.S);
            ShortVector high = ShortVector.zero(IntLanes.S);
            IntVector nibbles = IntVector.zero(IntLanes.I);
            long strips = Q4_KRowGroups.strip(block, 0, 0);
            int pair = xb * QK / 2;
            for (int t = 0; t < 32; t++) {
                if ((t & 3) == 0) {
                    if ((t & 7) == 4) {
                        // A row's two 16-bit lanes summed (x86's pmaddwd with ones) after four strips.
                        IntVector lows = low.reinterpretAsInts();
                        IntVector highs = high.reinterpretAsInts();
                        lowPairs = lows.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                .add(lows.lanewise(VectorOperators.ASHR, 16));
                        highPairs = highs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                .add(highs.lanewise(VectorOperators.ASHR, 16));
                        low = ShortVector.zero(IntLanes.S);
                        high = ShortVector.zero(IntLanes.S);
                    }
                    // Plane t / 4: half t % 8 / 4 of run t / 8.
                    nibbles = IntVector.fromMemorySegment(IntLanes.I, packed, block + PLANES + 32L * (t >> 2), ByteOrder.LITTLE_ENDIAN);
                }
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * t, ByteOrder.LITTLE_ENDIAN);
                int i = pair + 4 * t;
                low = low.add(v.and(LEVEL).reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i]).reinterpretAsShorts()))
                        .add(v.lanewise(VectorOperators.LSHR, 5).and(LEVEL).reinterpretAsShorts()
                                .mul(IntVector.broadcast(IntLanes.I, pairs[i + 1]).reinterpretAsShorts()));
                high = high.add(v.lanewise(VectorOperators.LSHR, 10).and(LEVEL).reinterpretAsShorts()
                                .mul(IntVector.broadcast(IntLanes.I, pairs[i + 2]).reinterpretAsShorts()))
                        .add(v.lanewise(VectorOperators.LSHR, 11).lanewise(VectorOperators.XOR, nibbles).and(LEVEL)
                                .reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i + 3]).reinterpretAsShorts()));
                nibbles = nibbles.lanewise(VectorOperators.LSHR, 4);
                if ((t & 7) == 7) {
                    int c = t >> 3;
                    IntVector lows = low.reinterpretAsInts();
                    IntVector highs = high.reinterpretAsInts();
                    lowPairs = lowPairs.add(lows.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lows.lanewise(VectorOperators.ASHR, 16)));
                    highPairs = highPairs.add(highs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(highs.lanewise(VectorOperators.ASHR, 16)));
                    IntVector scaleWords = c < 2 ? first : last;
                    int shift = 16 * (c & 1);
                    sum = sum.add(lowPairs.mul(scaleWords.lanewise(VectorOperators.LSHR, shift).and(0xFF)))
                            .add(highPairs.mul(scaleWords.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF)));
                    low = ShortVector.zero(IntLanes.S);
                    high = ShortVector.zero(IntLanes.S);
                }
            }
            // M = Σ_j min_j × (activation levels of sub-block j), then the float steps as in Q4_K's group kernel.
            int s32 = xb * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32;
            IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector minFirst = u1.and(0x3F3F3F3F);
            IntVector minLast = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector m = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 4; j++) {
                m = m.add(minFirst.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF).mul(sums[s32 + j]))
                        .add(minLast.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF).mul(sums[s32 + 4 + j]));
            }
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector dBits = halves.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112).mul(xScales[xb]);
            FloatVector dmin = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112).mul(xScales[xb]);
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(d, acc);
            accMin = ((FloatVector) m.convert(VectorOperators.I2F, 0)).fma(dmin, accMin);
        }
        acc.sub(accMin).intoArray(out, outOffset);
    }

    @Override
    public int tokensPerCall() {
        return TOKENS;
    }

    /**
     * Tokens one {@link #dotTokens} call multiplies with each strip's levels: two, since each token keeps three
     * integer sums in the strip loop and two running sums across it, and four tokens' would not fit 16 registers.
     */
    private static final int TOKENS = 2;

    /**
     * Two tokens at a time: each strip's levels are extracted once, then meet each token's activation pairs, with
     * {@link #dot}'s integer sums per token and its float steps in its order, so every value is bit for bit
     * {@link #dot}'s. A run's first four strips are weighted by the scales as soon as they are widened rather
     * than added to the last four first: the same integers, one vector fewer per token. Other counts run
     * through {@link #dot}.
     *
     * <p>Vector API calls only, as in {@link #dot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(Q5_K, xOffset, TOKENS * cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] xScales = x.scales();
        int blocks = cols / QK;
        int tokenPairs = cols / 2;
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        FloatVector accMin0 = FloatVector.zero(IntLanes.F);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        FloatVector accMin1 = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb0 = xOffset / QK + b;
            int xb1 = xb0 + blocks;
            IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES, ByteOrder.LITTLE_ENDIAN);
            IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES + 64, ByteOrder.LITTLE_ENDIAN);
            IntVector first = u0.and(0x3F3F3F3F);
            IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector sum0 = IntVector.zero(IntLanes.I);
            IntVector sum1 = IntVector.zero(IntLanes.I);
            ShortVector low0 = ShortVector.zero(IntLanes.S);
            ShortVector high0 = ShortVector.zero(IntLanes.S);
            ShortVector low1 = ShortVector.zero(IntLanes.S);
            ShortVector high1 = ShortVector.zero(IntLanes.S);
            IntVector nibbles = IntVector.zero(IntLanes.I);
            long strips = Q4_KRowGroups.strip(block, 0, 0);
            int pair = xb0 * QK / 2;
            for (int t = 0; t < 32; t++) {
                if ((t & 3) == 0) {
                    nibbles = IntVector.fromMemorySegment(IntLanes.I, packed, block + PLANES + 32L * (t >> 2), ByteOrder.LITTLE_ENDIAN);
                }
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * t, ByteOrder.LITTLE_ENDIAN);
                ShortVector l0 = v.and(LEVEL).reinterpretAsShorts();
                ShortVector l1 = v.lanewise(VectorOperators.LSHR, 5).and(LEVEL).reinterpretAsShorts();
                ShortVector l2 = v.lanewise(VectorOperators.LSHR, 10).and(LEVEL).reinterpretAsShorts();
                ShortVector l3 = v.lanewise(VectorOperators.LSHR, 11).lanewise(VectorOperators.XOR, nibbles).and(LEVEL)
                        .reinterpretAsShorts();
                nibbles = nibbles.lanewise(VectorOperators.LSHR, 4);
                int i0 = pair + 4 * t;
                int i1 = i0 + tokenPairs;
                low0 = low0.add(l0.mul(IntVector.broadcast(IntLanes.I, pairs[i0]).reinterpretAsShorts()))
                        .add(l1.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 1]).reinterpretAsShorts()));
                high0 = high0.add(l2.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 2]).reinterpretAsShorts()))
                        .add(l3.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 3]).reinterpretAsShorts()));
                low1 = low1.add(l0.mul(IntVector.broadcast(IntLanes.I, pairs[i1]).reinterpretAsShorts()))
                        .add(l1.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 1]).reinterpretAsShorts()));
                high1 = high1.add(l2.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 2]).reinterpretAsShorts()))
                        .add(l3.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 3]).reinterpretAsShorts()));
                if ((t & 3) == 3) {
                    // Four strips' 16-bit sums widened (as in dot) and weighted by sub-blocks 2c and 2c + 1's scales.
                    int c = t >> 3;
                    IntVector scaleWords = c < 2 ? first : last;
                    int shift = 16 * (c & 1);
                    IntVector scaleLow = scaleWords.lanewise(VectorOperators.LSHR, shift).and(0xFF);
                    IntVector scaleHigh = scaleWords.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF);
                    IntVector lows = low0.reinterpretAsInts();
                    IntVector highs = high0.reinterpretAsInts();
                    sum0 = sum0.add(lows.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(lows.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow))
                            .add(highs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh));
                    lows = low1.reinterpretAsInts();
                    highs = high1.reinterpretAsInts();
                    sum1 = sum1.add(lows.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(lows.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow))
                            .add(highs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh));
                    low0 = ShortVector.zero(IntLanes.S);
                    high0 = ShortVector.zero(IntLanes.S);
                    low1 = ShortVector.zero(IntLanes.S);
                    high1 = ShortVector.zero(IntLanes.S);
                }
            }
            int s0 = xb0 * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32;
            int s1 = xb1 * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32;
            IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + Q4_KRowGroups.SCALES + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector minFirst = u1.and(0x3F3F3F3F);
            IntVector minLast = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector m0 = IntVector.zero(IntLanes.I);
            IntVector m1 = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 4; j++) {
                IntVector minLow = minFirst.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF);
                IntVector minHigh = minLast.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF);
                m0 = m0.add(minLow.mul(sums[s0 + j])).add(minHigh.mul(sums[s0 + 4 + j]));
                m1 = m1.add(minLow.mul(sums[s1 + j])).add(minHigh.mul(sums[s1 + 4 + j]));
            }
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector dBits = halves.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            FloatVector dmin = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            acc0 = ((FloatVector) sum0.convert(VectorOperators.I2F, 0)).fma(d.mul(xScales[xb0]), acc0);
            accMin0 = ((FloatVector) m0.convert(VectorOperators.I2F, 0)).fma(dmin.mul(xScales[xb0]), accMin0);
            acc1 = ((FloatVector) sum1.convert(VectorOperators.I2F, 0)).fma(d.mul(xScales[xb1]), acc1);
            accMin1 = ((FloatVector) m1.convert(VectorOperators.I2F, 0)).fma(dmin.mul(xScales[xb1]), accMin1);
        }
        acc0.sub(accMin0).intoArray(out, outOffset);
        acc1.sub(accMin1).intoArray(out, outOffset + outStride);
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
                    for (int m = 0; m < 32; m++) {
                        int word = packed.get(ValueLayouts.I32, Q4_KRowGroups.strip(block, j / 2, m / 4) + 4L * r);
                        int nibbles = packed.get(ValueLayouts.I32, plane(block, j / 2, m / 16) + 4L * r);
                        int level = level(word, nibbles, j, m) & 0x1F;
                        dst[y + (b * QK + 32 * j + m) * colStride] = dj * level - mj;
                    }
                }
            }
        }
    }

    /**
     * Level m of sub-block j, in the low five bits, from the 32-bit lane of its strip ({@code word}) and of its
     * plane ({@code nibbles}); lane-wise the same for eight rows ({@link #subBlockColumns}), where higher bits are
     * masked off.
     */
    private static int level(int word, int nibbles, int j, int m) {
        int lane = 16 * (m % 4 / 2);
        if (j % 2 == 0) {
            return word >>> lane + 5 * (m % 2);
        }
        if (m % 2 == 0) {
            return word >>> lane + 10;
        }
        return word >>> lane + 11 ^ nibbles >>> 4 * (m / 4 % 4) + lane;
    }

    /**
     * Sub-block {@code j}'s 32 columns of the eight rows: 32-bit lane r of strip q and of its plane hold row r's
     * words, so shifts and masks give a level of every row at once; dj·level − mj ({@code factors}: dj, then
     * mj), rounded as the format's own decoders round it.
     */
    private static void subBlockColumns(MemorySegment packed, long block, int j, float[] factors, float[] dst,
                                        int column, int colStride) {
        FloatVector dj = FloatVector.fromArray(IntLanes.F, factors, 0);
        FloatVector mj = FloatVector.fromArray(IntLanes.F, factors, ROWS);
        int c = j / 2;
        for (int q = 0; q < 8; q++) {
            IntVector word = IntVector.fromMemorySegment(IntLanes.I, packed, Q4_KRowGroups.strip(block, c, q),
                    ByteOrder.LITTLE_ENDIAN);
            IntVector nibbles = IntVector.fromMemorySegment(IntLanes.I, packed, plane(block, c, q / 4), ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < 4; k++) {
                int lane = 16 * (k / 2);
                IntVector level;
                if (j % 2 == 0) {
                    level = word.lanewise(VectorOperators.LSHR, lane + 5 * (k % 2)).and(0x1F);
                } else if (k % 2 == 0) {
                    level = word.lanewise(VectorOperators.LSHR, lane + 10).and(0x1F);
                } else {
                    level = word.lanewise(VectorOperators.LSHR, lane + 11)
                            .lanewise(VectorOperators.XOR, nibbles.lanewise(VectorOperators.LSHR, 4 * (q % 4) + lane)).and(0x1F);
                }
                level.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).mul(dj).sub(mj)
                        .intoArray(dst, column + (4 * q + k) * colStride);
            }
        }
    }
}
