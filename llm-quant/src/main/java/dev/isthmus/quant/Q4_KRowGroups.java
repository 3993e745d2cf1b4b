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
 * Q4_K weights eight rows at a time ({@link RowGroupLayout}), laid out so that the kernel needs no lane
 * conversions: only full 256-bit loads, lane-wise integer arithmetic and reinterpretations.
 *
 * <p>A super-block column of the group takes 1152 bytes, as many as the eight rows' own super-blocks:
 * <ul>
 *   <li>32 bytes: 32-bit lane r holds row r's F16 {@code d} in its low half and {@code dmin} in its high half;
 *   <li>96 bytes: three vectors, lane r of vector k holding bytes 4k..4k+3 of row r's 12-byte (scale, min)
 *       field, unpacked lane-wise as ggml unpacks one row's;
 *   <li>1024 bytes: four runs c of eight 32-byte strips q. In strip (c, q), 16-bit lane 2r + e holds bytes
 *       32c + 4q + 2e and 32c + 4q + 2e + 1 of row r's levels. Its low nibbles are weights 4q + 2e and
 *       4q + 2e + 1 of sub-block 2c, its high nibbles the same weights of sub-block 2c + 1.
 * </ul>
 * The activations are the k-quants' own Q8_K levels (even/odd order within every 32) paired as they lie
 * ({@link QuantizedActivations#pairLevels}): a pair then holds weights (4q, 4q + 2) or (4q + 1, 4q + 3) of a
 * sub-block, exactly what lanes 2r and 2r + 1 of one nibble vector need, so each nibble vector multiplies one
 * broadcast pair and every row's products pile up lane-wise.
 *
 * <p>The arithmetic is llama.cpp's AVX2 repacked Q4_K kernel ({@code ggml_gemv_q4_K_8x8_q8_K}): per row and
 * super-block the exact integer sums S = Σ scale_j × Σ level × activation level and M = Σ min_j × Σ
 * activation level over sub-blocks j; then {@code acc = fma(S, d × d_x, acc)} and
 * {@code accMin = fma(M, dmin × d_x, accMin)} super-block after super-block, and {@code acc − accMin} at the
 * end — two running sums per row and no lane reduction, so the results are bit for bit llama.cpp's. Prompt
 * tokens that llama.cpp multiplies four at a time ({@code ggml_gemm_q4_K_8x8_q8_K}) take the same steps per
 * run of 64 columns instead of per super-block ({@link #dot}).
 */
final class Q4_KRowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 256;
    static final int SCALES = 32;
    static final int STRIPS = 128;
    static final int BLOCK_BYTES = STRIPS + 4 * 8 * 32;
    /** The low nibble of each 16-bit half of a 32-bit lane. */
    private static final int LOW_NIBBLES = 0x000F_000F;
    private static final float TWO_POW_112 = 0x1p112f;
    private static final Q4_KFormat Q4_K = new Q4_KFormat();

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
        return RowGroupFit.fits(weight, GgmlType.Q4_K, 0, 2);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.Q4_K, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                packRow(src, row + (long) b * Q4_KFormat.BLOCK_BYTES, 16, dst, offset + (long) b * BLOCK_BYTES, r);
            }
        }
    }

    /**
     * Row r's share of one super-block column at byte {@code to}: its {@link #packScales scales} and the 128 level
     * bytes, at {@code levels} bytes into the row's block at {@code from}.
     */
    static void packRow(MemorySegment src, long from, int levels, MemorySegment dst, long to, int r) {
        packScales(src, from, dst, to, r);
        for (int c = 0; c < 4; c++) {
            for (int q = 0; q < 8; q++) {
                dst.set(ValueLayouts.I32, strip(to, c, q) + 4L * r, src.get(ValueLayouts.I32, from + levels + 32 * c + 4 * q));
            }
        }
    }

    /**
     * Row r's d and dmin and its 12 (scale, min) bytes from the block at {@code from} into the super-block column
     * at {@code to}; Q5_K, which starts its blocks as Q4_K does, shares this part of the layout.
     */
    static void packScales(MemorySegment src, long from, MemorySegment dst, long to, int r) {
        // d and dmin lie next to each other in the block: one 32-bit lane, d low.
        dst.set(ValueLayouts.I32, to + 4L * r, src.get(ValueLayouts.I32, from));
        for (int k = 0; k < 3; k++) {
            dst.set(ValueLayouts.I32, to + SCALES + 32L * k + 4L * r, src.get(ValueLayouts.I32, from + 4 + 4 * k));
        }
    }

    /** Where strip {@code q} of run {@code c} starts in the super-block column at byte {@code block}. */
    static long strip(long block, int c, int q) {
        return block + STRIPS + 256L * c + 32L * q;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q4_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        stripOrder(dst.pairs(), count / 2);
    }

    /**
     * Reorders each super-block's 128 {@link QuantizedActivations#pairs()} (of {@code n}) so that strip t (strip
     * t % 8 of run t / 8) finds its four at 4t..4t + 3: the pairs of its two low nibbles, then of its two high
     * ones. Indices linear in the strip let C2 drop their range checks, and one loop runs over all 32 strips.
     */
    static void stripOrder(int[] pairs, int n) {
        // This thread's scratch: the kernels that use it later run after this fill is done with it.
        int[] block = KernelScratch.get().ints(QK / 2);
        for (int b = 0; b < n; b += QK / 2) {
            System.arraycopy(pairs, b, block, 0, QK / 2);
            for (int t = 0; t < 32; t++) {
                for (int k = 0; k < 4; k++) {
                    pairs[b + 4 * t + k] = block[32 * (t >> 3) + (t & 7) + 8 * k];
                }
            }
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Like llama.cpp, the rounding depends on where the token sits in the product's batch: {@code x} is taken
     * to hold the batch's tokens back to back ({@code cols} activations each, as {@code CpuBackend} fills it), and
     * tokens in the batch's whole groups of four — those llama.cpp multiplies with its 4-token kernel,
     * {@code ggml_gemm_q4_K_8x8_q8_K} — take one FMA per 64 columns; the rest, decode included, one per
     * super-block as {@code ggml_gemv_q4_K_8x8_q8_K} does.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q4_K, xOffset, cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int tokens = x.count() / cols;
        if (xOffset / cols >= tokens - tokens % 4) {
            oneTokenDot(packed, offset, pairs, sums, scales, xOffset / QK, cols / QK, out, outOffset);
            return;
        }
        // One super-block's S per run of 64 columns, and the running sums (lanes 0-7: Σ S·d·d_x; 8-15:
        // Σ M·dmin·d_x). They pass through memory between the two halves of the work, so that neither has to be
        // inlined here: vectors crossing a call that is not inlined would be boxed, and one method doing all of
        // it would exceed C2's node budget.
        KernelScratch scratch = KernelScratch.get();
        int[] s = scratch.ints(4 * ROWS);
        float[] acc = scratch.zeroedFloats(2 * ROWS);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            runSums(packed, block, pairs, xb * QK / 2, s);
            accumulateRuns(packed, block, s, sums, xb * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32,
                    scales[xb], acc);
        }
        FloatVector.fromArray(IntLanes.F, acc, 0).sub(FloatVector.fromArray(IntLanes.F, acc, ROWS)).intoArray(out, outOffset);
    }

    /**
     * Decode's whole product for one group ({@code ggml_gemv_q4_K_8x8_q8_K}'s steps): per super-block the exact
     * integer sums S and M of each row, then {@code acc = fma(S, d·d_x, acc)} and {@code accMin = fma(M, dmin·d_x,
     * accMin)}, and {@code acc − accMin} into {@code out}.
     *
     * <p>S_c = Σ_j scale_j × Σ level × activation level over the sub-blocks j = 2c, 2c + 1 of run c: the run holds
     * sub-block 2c in its low nibbles and 2c + 1 in its high ones; each 16-bit lane gathers 16 products of at most
     * 15 × 127 per sub-block, |sum| ≤ 30480 < 2^15, before it is widened after the run's eighth strip. One loop
     * over the super-block's 32 strips (pairs in {@link #stripOrder}) and the running sums kept in registers
     * across super-blocks: 12.0 against 10.2 GB/s on one thread (4096 × 4096) for a loop per run and a call per
     * super-block for its float steps, with the same results bit for bit.
     *
     * <p>Each pair is broadcast from {@link QuantizedActivations#pairs()}: loading ready-made vectors
     * ({@link QuantizedActivations#pairVectors()}, 16 times the bytes) measured slower here, 7.7 against 10 GB/s
     * in cache on one thread.
     *
     * <p>Written with Vector API calls only (no helpers of our own taking or returning vectors): past C2's
     * parse-time node budget a helper is left a call and its vectors are boxed, while the API's own methods
     * are inlined later.
     */
    private static void oneTokenDot(MemorySegment packed, long offset, int[] pairs, int[] sums, float[] xScales,
                                    int xBlock, int blocks, float[] out, int outOffset) {
        FloatVector acc = FloatVector.zero(IntLanes.F);
        FloatVector accMin = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xBlock + b;
            IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES, ByteOrder.LITTLE_ENDIAN);
            IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64, ByteOrder.LITTLE_ENDIAN);
            // Eight 6-bit scales per row, four per word: sub-blocks 0..3, then 4..7 (ggml's utmp).
            IntVector first = u0.and(0x3F3F3F3F);
            IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector sum = IntVector.zero(IntLanes.I);
            ShortVector low = ShortVector.zero(IntLanes.S);
            ShortVector high = ShortVector.zero(IntLanes.S);
            long strips = block + STRIPS;
            int pair = xb * QK / 2;
            for (int t = 0; t < 32; t++) {
                // Nibbles moved by shifts of 32-bit lanes, masked in both 16-bit halves: C2 compiles 16-bit lane
                // shifts with the count moved into a register each time.
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * t, ByteOrder.LITTLE_ENDIAN);
                int i = pair + 4 * t;
                low = low.add(v.and(LOW_NIBBLES).reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i]).reinterpretAsShorts()))
                        .add(v.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                                .mul(IntVector.broadcast(IntLanes.I, pairs[i + 1]).reinterpretAsShorts()));
                high = high.add(v.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                                .mul(IntVector.broadcast(IntLanes.I, pairs[i + 2]).reinterpretAsShorts()))
                        .add(v.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                                .mul(IntVector.broadcast(IntLanes.I, pairs[i + 3]).reinterpretAsShorts()));
                if ((t & 7) == 7) {
                    // A row's two 16-bit lanes summed (x86's pmaddwd with ones), then weighted by the sub-block scales.
                    int c = t >> 3;
                    IntVector lowPairs = low.reinterpretAsInts();
                    IntVector highPairs = high.reinterpretAsInts();
                    IntVector words = c < 2 ? first : last;
                    int shift = 16 * (c & 1);
                    sum = sum.add(lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lowPairs.lanewise(VectorOperators.ASHR, 16))
                            .mul(words.lanewise(VectorOperators.LSHR, shift).and(0xFF))
                            .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highPairs.lanewise(VectorOperators.ASHR, 16))
                                    .mul(words.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF))));
                    low = ShortVector.zero(IntLanes.S);
                    high = ShortVector.zero(IntLanes.S);
                }
            }
            // M = Σ_j min_j × (activation levels of sub-block j), the latter at sums[s32 + j].
            int s32 = xb * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32;
            IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector minFirst = u1.and(0x3F3F3F3F);
            IntVector minLast = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector m = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 4; j++) {
                m = m.add(minFirst.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF).mul(sums[s32 + j]))
                        .add(minLast.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF).mul(sums[s32 + 4 + j]));
            }
            // d in the low halves, dmin in the high ones; F16 bits moved into place and scaled by 2^112, exact for
            // every finite half (subnormals included). d·d_x and dmin·d_x are each rounded once, as llama.cpp
            // multiplies the widened halves; S may exceed 2^24, and its conversion rounds to nearest even as
            // cvtepi32_ps does.
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

    /**
     * S_c (see {@link #oneTokenDot}) of each run c of the super-block column at byte {@code block} into
     * {@code s[8c..8c+8)}, for the 4-token steps.
     */
    private static void runSums(MemorySegment packed, long block, int[] pairs, int pair, int[] s) {
        IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES, ByteOrder.LITTLE_ENDIAN);
        IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64, ByteOrder.LITTLE_ENDIAN);
        IntVector first = u0.and(0x3F3F3F3F);
        IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
        ShortVector low = ShortVector.zero(IntLanes.S);
        ShortVector high = ShortVector.zero(IntLanes.S);
        long strips = block + STRIPS;
        for (int t = 0; t < 32; t++) {
            IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * t, ByteOrder.LITTLE_ENDIAN);
            int i = pair + 4 * t;
            low = low.add(v.and(LOW_NIBBLES).reinterpretAsShorts().mul(IntVector.broadcast(IntLanes.I, pairs[i]).reinterpretAsShorts()))
                    .add(v.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(IntVector.broadcast(IntLanes.I, pairs[i + 1]).reinterpretAsShorts()));
            high = high.add(v.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(IntVector.broadcast(IntLanes.I, pairs[i + 2]).reinterpretAsShorts()))
                    .add(v.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts()
                            .mul(IntVector.broadcast(IntLanes.I, pairs[i + 3]).reinterpretAsShorts()));
            if ((t & 7) == 7) {
                int c = t >> 3;
                IntVector lowPairs = low.reinterpretAsInts();
                IntVector highPairs = high.reinterpretAsInts();
                IntVector words = c < 2 ? first : last;
                int shift = 16 * (c & 1);
                lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(lowPairs.lanewise(VectorOperators.ASHR, 16))
                        .mul(words.lanewise(VectorOperators.LSHR, shift).and(0xFF))
                        .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                .add(highPairs.lanewise(VectorOperators.ASHR, 16))
                                .mul(words.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF)))
                        .intoArray(s, ROWS * c);
                low = ShortVector.zero(IntLanes.S);
                high = ShortVector.zero(IntLanes.S);
            }
        }
    }

    /**
     * The super-block's float steps as llama.cpp's 4-token kernel takes them: per run c of 64 columns,
     * {@code acc[0..8) = fma(S_c, d·d_x, ·)} and {@code acc[8..16) = fma(M_c, dmin·d_x, ·)}, with
     * M_c = min_2c × (activation levels of sub-block 2c) + min_2c+1 × (those of 2c + 1).
     */
    private static void accumulateRuns(MemorySegment packed, long block, int[] s, int[] sums, int s32, float dx,
                                       float[] acc) {
        IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32, ByteOrder.LITTLE_ENDIAN);
        IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64, ByteOrder.LITTLE_ENDIAN);
        IntVector first = u1.and(0x3F3F3F3F);
        IntVector last = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
        IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
        IntVector dBits = halves.lanewise(VectorOperators.LSHL, 16);
        FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                .reinterpretAsFloats().mul(TWO_POW_112).mul(dx);
        FloatVector dmin = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                .reinterpretAsFloats().mul(TWO_POW_112).mul(dx);
        FloatVector sum = FloatVector.fromArray(IntLanes.F, acc, 0);
        FloatVector mins = FloatVector.fromArray(IntLanes.F, acc, ROWS);
        for (int c = 0; c < 4; c++) {
            IntVector words = c < 2 ? first : last;
            int shift = 16 * (c % 2);
            IntVector m = words.lanewise(VectorOperators.LSHR, shift).and(0xFF).mul(sums[s32 + 2 * c])
                    .add(words.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF).mul(sums[s32 + 2 * c + 1]));
            sum = ((FloatVector) IntVector.fromArray(IntLanes.I, s, ROWS * c).convert(VectorOperators.I2F, 0)).fma(d, sum);
            mins = ((FloatVector) m.convert(VectorOperators.I2F, 0)).fma(dmin, mins);
        }
        sum.intoArray(acc, 0);
        mins.intoArray(acc, ROWS);
    }

    @Override
    public int tokensPerCall() {
        return TOKENS;
    }

    /** Tokens one {@link #dotTokens} call multiplies with each strip's nibbles: llama.cpp's 4-token kernel's four. */
    private static final int TOKENS = 4;

    /**
     * Four tokens of the batch's whole groups of four at a time: each strip's nibbles are extracted once, then meet
     * each token's activation pairs, and each token takes {@link #runSums}' sums and {@link #accumulateRuns}' float
     * steps, so every value is bit for bit {@link #dot}'s. Eight 16-bit sums (two per token) fill the strip loop's
     * registers, so a token's run sums and running sums wait in scratch, one share per token, as {@link #dot}'s
     * do. Other counts, and the tokens {@link #dot} multiplies one at a time, run through {@link #dot}.
     *
     * <p>Vector API calls only, as in {@link #oneTokenDot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        int batch = x.count() / cols;
        if (tokens != TOKENS || xOffset / cols + TOKENS > batch - batch % 4) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(Q4_K, xOffset, TOKENS * cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] xScales = x.scales();
        int blocks = cols / QK;
        int tokenPairs = cols / 2;
        KernelScratch scratch = KernelScratch.get();
        // Token k's S_c at s[32k + 8c], its running sums at acc[16k..16k+8) and its minimums' 8 further.
        int[] s = scratch.ints(TOKENS * 4 * ROWS);
        float[] acc = scratch.zeroedFloats(TOKENS * 2 * ROWS);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES, ByteOrder.LITTLE_ENDIAN);
            IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64, ByteOrder.LITTLE_ENDIAN);
            IntVector first = u0.and(0x3F3F3F3F);
            IntVector last = u2.and(0x0F0F0F0F).or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            ShortVector low0 = ShortVector.zero(IntLanes.S);
            ShortVector high0 = ShortVector.zero(IntLanes.S);
            ShortVector low1 = ShortVector.zero(IntLanes.S);
            ShortVector high1 = ShortVector.zero(IntLanes.S);
            ShortVector low2 = ShortVector.zero(IntLanes.S);
            ShortVector high2 = ShortVector.zero(IntLanes.S);
            ShortVector low3 = ShortVector.zero(IntLanes.S);
            ShortVector high3 = ShortVector.zero(IntLanes.S);
            long strips = block + STRIPS;
            int pair = xb * QK / 2;
            for (int t = 0; t < 32; t++) {
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L * t, ByteOrder.LITTLE_ENDIAN);
                ShortVector n0 = v.and(LOW_NIBBLES).reinterpretAsShorts();
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 8).and(LOW_NIBBLES).reinterpretAsShorts();
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).reinterpretAsShorts();
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12).and(LOW_NIBBLES).reinterpretAsShorts();
                int i0 = pair + 4 * t;
                int i1 = i0 + tokenPairs;
                int i2 = i1 + tokenPairs;
                int i3 = i2 + tokenPairs;
                low0 = low0.add(n0.mul(IntVector.broadcast(IntLanes.I, pairs[i0]).reinterpretAsShorts()))
                        .add(n1.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 1]).reinterpretAsShorts()));
                high0 = high0.add(n2.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 2]).reinterpretAsShorts()))
                        .add(n3.mul(IntVector.broadcast(IntLanes.I, pairs[i0 + 3]).reinterpretAsShorts()));
                low1 = low1.add(n0.mul(IntVector.broadcast(IntLanes.I, pairs[i1]).reinterpretAsShorts()))
                        .add(n1.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 1]).reinterpretAsShorts()));
                high1 = high1.add(n2.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 2]).reinterpretAsShorts()))
                        .add(n3.mul(IntVector.broadcast(IntLanes.I, pairs[i1 + 3]).reinterpretAsShorts()));
                low2 = low2.add(n0.mul(IntVector.broadcast(IntLanes.I, pairs[i2]).reinterpretAsShorts()))
                        .add(n1.mul(IntVector.broadcast(IntLanes.I, pairs[i2 + 1]).reinterpretAsShorts()));
                high2 = high2.add(n2.mul(IntVector.broadcast(IntLanes.I, pairs[i2 + 2]).reinterpretAsShorts()))
                        .add(n3.mul(IntVector.broadcast(IntLanes.I, pairs[i2 + 3]).reinterpretAsShorts()));
                low3 = low3.add(n0.mul(IntVector.broadcast(IntLanes.I, pairs[i3]).reinterpretAsShorts()))
                        .add(n1.mul(IntVector.broadcast(IntLanes.I, pairs[i3 + 1]).reinterpretAsShorts()));
                high3 = high3.add(n2.mul(IntVector.broadcast(IntLanes.I, pairs[i3 + 2]).reinterpretAsShorts()))
                        .add(n3.mul(IntVector.broadcast(IntLanes.I, pairs[i3 + 3]).reinterpretAsShorts()));
                if ((t & 7) == 7) {
                    int c = t >> 3;
                    IntVector words = c < 2 ? first : last;
                    int shift = 16 * (c & 1);
                    IntVector scaleLow = words.lanewise(VectorOperators.LSHR, shift).and(0xFF);
                    IntVector scaleHigh = words.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF);
                    IntVector lowPairs = low0.reinterpretAsInts();
                    IntVector highPairs = high0.reinterpretAsInts();
                    lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lowPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow)
                            .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh))
                            .intoArray(s, ROWS * c);
                    lowPairs = low1.reinterpretAsInts();
                    highPairs = high1.reinterpretAsInts();
                    lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lowPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow)
                            .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh))
                            .intoArray(s, 4 * ROWS + ROWS * c);
                    lowPairs = low2.reinterpretAsInts();
                    highPairs = high2.reinterpretAsInts();
                    lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lowPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow)
                            .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh))
                            .intoArray(s, 8 * ROWS + ROWS * c);
                    lowPairs = low3.reinterpretAsInts();
                    highPairs = high3.reinterpretAsInts();
                    lowPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(lowPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleLow)
                            .add(highPairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                    .add(highPairs.lanewise(VectorOperators.ASHR, 16)).mul(scaleHigh))
                            .intoArray(s, 12 * ROWS + ROWS * c);
                    low0 = ShortVector.zero(IntLanes.S);
                    high0 = ShortVector.zero(IntLanes.S);
                    low1 = ShortVector.zero(IntLanes.S);
                    high1 = ShortVector.zero(IntLanes.S);
                    low2 = ShortVector.zero(IntLanes.S);
                    high2 = ShortVector.zero(IntLanes.S);
                    low3 = ShortVector.zero(IntLanes.S);
                    high3 = ShortVector.zero(IntLanes.S);
                }
            }
            // accumulateRuns' steps for each token: d·d_x and dmin·d_x rounded once each, one FMA per run.
            IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector minFirst = u1.and(0x3F3F3F3F);
            IntVector minLast = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector dBits = halves.lanewise(VectorOperators.LSHL, 16);
            FloatVector dw = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            FloatVector dminw = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            for (int k = 0; k < TOKENS; k++) {
                int xk = xb + k * blocks;
                int s32 = xk * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32;
                FloatVector d = dw.mul(xScales[xk]);
                FloatVector dmin = dminw.mul(xScales[xk]);
                FloatVector sum = FloatVector.fromArray(IntLanes.F, acc, 2 * ROWS * k);
                FloatVector mins = FloatVector.fromArray(IntLanes.F, acc, 2 * ROWS * k + ROWS);
                for (int c = 0; c < 4; c++) {
                    IntVector words = c < 2 ? minFirst : minLast;
                    int shift = 16 * (c % 2);
                    IntVector m = words.lanewise(VectorOperators.LSHR, shift).and(0xFF).mul(sums[s32 + 2 * c])
                            .add(words.lanewise(VectorOperators.LSHR, shift + 8).and(0xFF).mul(sums[s32 + 2 * c + 1]));
                    sum = ((FloatVector) IntVector.fromArray(IntLanes.I, s, 4 * ROWS * k + ROWS * c)
                            .convert(VectorOperators.I2F, 0)).fma(d, sum);
                    mins = ((FloatVector) m.convert(VectorOperators.I2F, 0)).fma(dmin, mins);
                }
                sum.intoArray(acc, 2 * ROWS * k);
                mins.intoArray(acc, 2 * ROWS * k + ROWS);
            }
        }
        for (int k = 0; k < TOKENS; k++) {
            FloatVector.fromArray(IntLanes.F, acc, 2 * ROWS * k).sub(FloatVector.fromArray(IntLanes.F, acc, 2 * ROWS * k + ROWS))
                    .intoArray(out, outOffset + k * outStride);
        }
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride);
            return;
        }
        byte[] scales = new byte[12];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            for (int r = 0; r < ROWS; r++) {
                float d = QuantVectors.f16(packed, block + 4L * r);
                float min = QuantVectors.f16(packed, block + 4L * r + 2);
                rowScales(packed, block, r, scales);
                int y = dstOffset + r * rowStride;
                for (int c = 0; c < 4; c++) {
                    float d1 = d * KQuantMath.scaleK4(2 * c, scales);
                    float m1 = min * KQuantMath.minK4(2 * c, scales);
                    float d2 = d * KQuantMath.scaleK4(2 * c + 1, scales);
                    float m2 = min * KQuantMath.minK4(2 * c + 1, scales);
                    for (int l = 0; l < 32; l++) {
                        int q = QuantVectors.u8(packed, strip(block, c, l / 4) + 4L * r + l % 4);
                        int column = b * QK + 64 * c + l;
                        dst[y + column * colStride] = d1 * (q & 0xF) - m1;
                        dst[y + (column + 32) * colStride] = d2 * (q >> 4) - m2;
                    }
                }
            }
        }
    }

    /** Row r's 12 (scale, min) bytes from the super-block column at byte {@code block}, as the file's block holds them. */
    static void rowScales(MemorySegment packed, long block, int r, byte[] scales) {
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < 4; i++) {
                scales[4 * k + i] = packed.get(ValueLayouts.I8, block + SCALES + 32L * k + 4L * r + i);
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): 32-bit lane r of a strip holds
     * four of row r's level bytes, so one shift and mask yields a nibble of every row at once. Each value is
     * (d·scale)·level − dmin·min, rounded as the format's own decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride, BLOCK_BYTES, Q4_KRowGroups::subBlockColumns);
    }

    /** Writes one sub-block's 32 columns of eight rows from its dj and mj (see {@link #subBlockColumns}). */
    interface SubBlockColumns {
        void write(MemorySegment packed, long block, int j, float[] factors, float[] dst, int column, int colStride);
    }

    /**
     * The column-major decoding of any layout that starts each super-block column (every {@code blockBytes}) as
     * this one does: per sub-block j, dj = d·scale_j and mj = dmin·min_j for the eight rows, then {@code columns}
     * writes its 32 columns.
     */
    static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                  int colStride, int blockBytes, SubBlockColumns columns) {
        // Each sub-block's dj and mj reach the column writer (too big to inline) through an array: vectors passed
        // to a call are boxed, two allocations per 256 values, which took a third of the time.
        float[] factors = new float[2 * ROWS];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * blockBytes;
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            // Vector API calls only here and below (f16 and IntLanes.smallToFloat written out): C2 left those
            // helpers out of line in this loop and boxed their vectors, about 16 KB per group decoded.
            IntVector dBits = halves.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            FloatVector dmin = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            IntVector u0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES, ByteOrder.LITTLE_ENDIAN);
            IntVector u1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector u2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64, ByteOrder.LITTLE_ENDIAN);
            IntVector scaleLow = u0.and(0x3F3F3F3F);
            IntVector scaleHigh = u2.and(0x0F0F0F0F)
                    .or(u0.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            IntVector minLow = u1.and(0x3F3F3F3F);
            IntVector minHigh = u2.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(u1.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
            for (int j = 0; j < 8; j++) {
                IntVector scale = j < 4 ? scaleLow : scaleHigh;
                IntVector min = j < 4 ? minLow : minHigh;
                int shift = 8 * (j % 4);
                d.mul(scale.lanewise(VectorOperators.LSHR, shift).and(0xFF).add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f))
                        .intoArray(factors, 0);
                dmin.mul(min.lanewise(VectorOperators.LSHR, shift).and(0xFF).add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f))
                        .intoArray(factors, ROWS);
                columns.write(packed, block, j, factors, dst, dstOffset + (b * QK + 32 * j) * colStride, colStride);
            }
        }
    }

    /** Sub-block {@code j}'s 32 columns: dj·level − mj, eight rows per column ({@code factors}: dj, then mj). */
    private static void subBlockColumns(MemorySegment packed, long block, int j, float[] factors, float[] dst,
                                        int column, int colStride) {
        FloatVector dj = FloatVector.fromArray(IntLanes.F, factors, 0);
        FloatVector mj = FloatVector.fromArray(IntLanes.F, factors, ROWS);
        int nibble = 4 * (j % 2);
        for (int q = 0; q < 8; q++) {
            IntVector strip = IntVector.fromMemorySegment(IntLanes.I, packed, strip(block, j / 2, q),
                    ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < 4; k++) {
                IntVector level = strip.lanewise(VectorOperators.LSHR, 8 * k + nibble).and(0x0F);
                level.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).mul(dj).sub(mj)
                        .intoArray(dst, column + (4 * q + k) * colStride);
            }
        }
    }
}
