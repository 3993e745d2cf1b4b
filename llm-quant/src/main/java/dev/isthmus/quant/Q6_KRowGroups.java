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
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K weights eight rows at a time ({@link RowGroupLayout}), laid out so that the kernel needs no lane
 * conversions: only full 256-bit loads, lane-wise integer arithmetic and reinterpretations.
 *
 * <p>llama.cpp does not repack Q6_K on x86, so the reference is the format's own single-row kernel
 * ({@link Q6_KFormat#dotQuantized}, after {@code ggml_vec_dot_q6_K_q8_K}): per row and super-block eight exact
 * int32 lane sums s_i, one float FMA per lane into eight running sums, and ggml's fixed reduction of those
 * eight at the end. Here vector A_i holds the running sum of lane i of every row (32-bit lane r = row r), so
 * each row goes through the very same float steps: {@code A_i = fma(float(s_i), d·d_x, A_i)} super-block after
 * super-block and {@code ((A0+A4)+(A2+A6)) + ((A1+A5)+(A3+A7))} at the end.
 *
 * <p>A super-block column of the group takes 1696 bytes, the eight rows' 1680 and 16 more (d widened):
 * <ul>
 *   <li>32 bytes: lane r holds row r's d as a float (exactly its F16 value);
 *   <li>128 bytes: four vectors, lane r of vector v holding row r's signed sub-block scales 4v..4v+3;
 *   <li>2 × 768 bytes, one per 128-element half n: for each single-row lane i (elements 4i..4i+3 of each of
 *       the half's four 32-element runs) three 32-bit words w0, w1, w2 per row, row r in lane r. Each word is two
 *       16-bit words, e = 0 and 1; with v(k, π) the level (0..63) of element 4i + 2e + π of run k, the 16-bit
 *       words hold, low bits first: w0 = v(0,0), v(0,1) (six bits each), the low four bits of v(3,0);
 *       w1 = v(1,0), v(1,1), the high two bits of v(3,0), the low two of v(3,1); w2 = v(2,0), v(2,1), the high
 *       four bits of v(3,1).
 * </ul>
 * Six of a lane's eight level vectors are then one mask (and a shift) away, the other two five operations: 19 in
 * all where ggml's bit fields (nibbles and high bit pairs) took 29. In level vector v(k, π) 16-bit lane 2r + e
 * holds element 4i + 2e + π of row r: with π = 0 it multiplies the broadcast activation pair (4i, 4i+2), with
 * π = 1 the pair (4i+1, 4i+3) (Q8_K's even/odd order, {@link QuantizedActivations#pairLevels}, as vectors from
 * {@link QuantizedActivations#broadcastPairs}); the two products added, a row's two 16-bit lanes summed give
 * exactly the single-row kernel's lane-i sum of the run.
 */
final class Q6_KRowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 256;
    private static final int SCALES = 32;
    private static final int LEVELS = SCALES + 128;
    private static final int HALF = 768;
    private static final int BLOCK_BYTES = LEVELS + 2 * HALF;
    /** The low six bits of each 16-bit half. */
    private static final int SIX_BITS = 0x003F_003F;
    private static final Q6_KFormat Q6_K = new Q6_KFormat();

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
        return RowGroupFit.fits(weight, GgmlType.Q6_K, 208);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.Q6_K, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        byte[] file = new byte[Q6_KFormat.BLOCK_BYTES];
        int[] levels = new int[QK];
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q6_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                MemorySegment.copy(src, ValueLayouts.I8, from, file, 0, file.length);
                dst.set(ValueLayouts.F32, to + 4L * r, Half.f16ToFloat(src.get(ValueLayouts.I16, from + 208)));
                for (int v = 0; v < 4; v++) {
                    dst.set(ValueLayouts.I32, to + SCALES + 32L * v + 4L * r, src.get(ValueLayouts.I32, from + 192 + 4 * v));
                }
                fileLevels(file, levels);
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < 8; i++) {
                        for (int e = 0; e < 2; e++) {
                            // v(o) = levels[at + 32·(o / 2) + o % 2]: run o / 2's element 4i + 2e + o % 2 of the half.
                            int at = 128 * n + 4 * i + 2 * e;
                            long words = to + LEVELS + (long) HALF * n + 96L * i + 4L * r + 2L * e;
                            dst.set(ValueLayouts.I16, words, (short) (levels[at] | levels[at + 1] << 6 | (levels[at + 96] & 0xF) << 12));
                            dst.set(ValueLayouts.I16, words + 32, (short) (levels[at + 32] | levels[at + 33] << 6
                                    | (levels[at + 96] >> 4) << 12 | (levels[at + 97] & 3) << 14));
                            dst.set(ValueLayouts.I16, words + 64, (short) (levels[at + 64] | levels[at + 65] << 6
                                    | (levels[at + 97] >> 2) << 12));
                        }
                    }
                }
            }
        }
    }

    /** The block's 256 levels (0..63) in element order, from its ql and qh bit fields as ggml lays them out. */
    private static void fileLevels(byte[] block, int[] levels) {
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int qh = block[128 + 32 * n + l] & 0xFF;
                int ql0 = block[64 * n + l] & 0xFF;
                int ql1 = block[64 * n + 32 + l] & 0xFF;
                levels[128 * n + l] = (ql0 & 0xF) | (qh & 3) << 4;
                levels[128 * n + 32 + l] = (ql1 & 0xF) | ((qh >> 2) & 3) << 4;
                levels[128 * n + 64 + l] = (ql0 >> 4) | ((qh >> 4) & 3) << 4;
                levels[128 * n + 96 + l] = (ql1 >> 4) | ((qh >> 6) & 3) << 4;
            }
        }
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q6_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        dst.broadcastPairs(count / 2);
    }

    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q6_K, xOffset, cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        // s[8i..8i+8): lane i of every row's super-block sum; acc[8i..8i+8): A_i. Both pass through memory
        // between the halves of the work so that no vector crosses a call C2 may leave uninlined (it would be
        // boxed), and no one method exceeds C2's node budget.
        KernelScratch scratch = KernelScratch.get();
        int[] s = scratch.ints(8 * ROWS);
        float[] acc = scratch.zeroedFloats(8 * ROWS);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            int pair = xb * QK / 2;
            half(packed, block, 0, pairs, pair, s, false);
            half(packed, block, 1, pairs, pair + 64, s, true);
            accumulate(packed, block, s, sums, xb * ActivationRounding.SUMS_PER_BLOCK, scales[xb], acc);
        }
        // ggml's hsum_float_8 order per row: ((A0 + A4) + (A2 + A6)) + ((A1 + A5) + (A3 + A7)).
        FloatVector.fromArray(IntLanes.F, acc, 0).add(FloatVector.fromArray(IntLanes.F, acc, 32))
                .add(FloatVector.fromArray(IntLanes.F, acc, 16).add(FloatVector.fromArray(IntLanes.F, acc, 48)))
                .add(FloatVector.fromArray(IntLanes.F, acc, 8).add(FloatVector.fromArray(IntLanes.F, acc, 40))
                        .add(FloatVector.fromArray(IntLanes.F, acc, 24).add(FloatVector.fromArray(IntLanes.F, acc, 56))))
                .intoArray(out, outOffset);
    }

    /**
     * Half {@code n} of the super-block column at {@code block}: for each lane i, Σ over the half's runs k of
     * scale × (the lane's four products), added to {@code s[8i..8i+8)} ({@code add}) or stored there. A 16-bit
     * lane gathers two products of a level (0..63) and an activation level (|q| ≤ 127): at most 2 × 8001 =
     * 16002 < 2^15, so it cannot overflow before it is widened, nor can a row's two lanes together (32004).
     *
     * <p>Activation pairs are loaded as ready-made vectors ({@link QuantizedActivations#pairVectors()}): broadcast
     * from {@link QuantizedActivations#pairs()} instead the kernel measured 5.5 against 8.3 GB/s on one thread
     * (and, with the level words of this layout, 8.9 against 11.3).
     */
    private static void half(MemorySegment packed, long block, int n, short[] pairs, int pair, int[] s, boolean add) {
        IntVector scaleWords0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64L * n, ByteOrder.LITTLE_ENDIAN);
        IntVector scaleWords1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64L * n + 32, ByteOrder.LITTLE_ENDIAN);
        long levels = block + LEVELS + (long) HALF * n;
        for (int upper = 0; upper < 2; upper++) {
            // Run k's sub-block in this half: 2k + upper (lanes 0-3: upper = 0; lanes 4-7: upper = 1).
            IntVector sc0 = scaleWords0.lanewise(VectorOperators.LSHL, 24 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc1 = scaleWords0.lanewise(VectorOperators.LSHL, 8 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc2 = scaleWords1.lanewise(VectorOperators.LSHL, 24 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc3 = scaleWords1.lanewise(VectorOperators.LSHL, 8 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            for (int j = 0; j < 4; j++) {
                int i = 4 * upper + j;
                long words = levels + 96L * i;
                // The eight level vectors: six fields that lie whole in a word, two split across words. 32-bit lane
                // shifts (C2 compiles 16-bit lane shifts with the count moved into a register each time) and masks
                // that keep each 16-bit half to its own bits.
                IntVector w0 = IntVector.fromMemorySegment(IntLanes.I, packed, words, ByteOrder.LITTLE_ENDIAN);
                IntVector w1 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 32, ByteOrder.LITTLE_ENDIAN);
                IntVector w2 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 64, ByteOrder.LITTLE_ENDIAN);
                int p = pair + i;
                IntVector r0 = w0.and(SIX_BITS).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * p))
                        .add(w0.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 8))))
                        .reinterpretAsInts();
                IntVector r1 = w1.and(SIX_BITS).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 16)))
                        .add(w1.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 24))))
                        .reinterpretAsInts();
                IntVector r2 = w2.and(SIX_BITS).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 32)))
                        .add(w2.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 40))))
                        .reinterpretAsInts();
                IntVector r3 = w0.lanewise(VectorOperators.LSHR, 12).and(0x000F_000F)
                        .or(w1.lanewise(VectorOperators.LSHR, 8).and(0x0030_0030)).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 48)))
                        .add(w1.lanewise(VectorOperators.LSHR, 14).and(0x0003_0003)
                                .or(w2.lanewise(VectorOperators.LSHR, 10).and(0x003C_003C)).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 56))))
                        .reinterpretAsInts();
                // A row's two 16-bit lanes summed (pmaddwd with ones), weighted by the run's sub-block scale. With
                // x = hi·2^16 + lo, x + (x << 16) holds hi + lo (mod 2^16) in its high half, and |hi + lo| ≤ 32004
                // fits a signed 16-bit lane, so the arithmetic shift yields the exact sum in three operations.
                IntVector sum = r0.add(r0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0)
                        .add(r1.add(r1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1))
                        .add(r2.add(r2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc2))
                        .add(r3.add(r3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc3));
                if (add) {
                    sum = sum.add(IntVector.fromArray(IntLanes.I, s, ROWS * i));
                }
                sum.intoArray(s, ROWS * i);
            }
        }
    }

    /**
     * The super-block's float step: lane i's −32 offset as the single-row kernel takes it (32 × (16-sum i ×
     * scale 2i + 16-sum 8+i × scale 2i+1)), then {@code A_i = fma(float(s_i − offset_i), d·d_x, A_i)}. d·d_x is
     * the single-row kernel's very product; the conversion rounds to nearest even as {@code cvtepi32_ps} does.
     */
    private static void accumulate(MemorySegment packed, long block, int[] s, int[] sums, int s16, float dx, float[] acc) {
        FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN).mul(dx);
        for (int v = 0; v < 4; v++) {
            IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * v, ByteOrder.LITTLE_ENDIAN);
            for (int e = 0; e < 2; e++) {
                // Lane i = 2v + e pairs sub-blocks 2i = 4v + 2e (byte 2e) and 2i + 1 (byte 2e + 1).
                int i = 2 * v + e;
                IntVector even = words.lanewise(VectorOperators.LSHL, 24 - 16 * e).lanewise(VectorOperators.ASHR, 24);
                IntVector odd = words.lanewise(VectorOperators.LSHL, 16 - 16 * e).lanewise(VectorOperators.ASHR, 24);
                IntVector offsets = even.mul(sums[s16 + i]).add(odd.mul(sums[s16 + 8 + i])).lanewise(VectorOperators.LSHL, 5);
                IntLanes.toFloat(IntVector.fromArray(IntLanes.I, s, ROWS * i).sub(offsets))
                        .fma(d, FloatVector.fromArray(IntLanes.F, acc, ROWS * i)).intoArray(acc, ROWS * i);
            }
        }
    }

    @Override
    public int tokensPerCall() {
        return TOKENS;
    }

    /** Tokens one {@link #dotTokens} call multiplies with each lane's decoded level vectors. */
    private static final int TOKENS = 4;

    /**
     * Four tokens at a time: each lane's eight level vectors and each run's scales are decoded once
     * ({@link #halfTokens}), the super-block's d and scale bytes once ({@link #accumulateTokens}), then meet each
     * token as in {@link #dot}. A token's sums and running sums are its own slice of the scratch arrays, so more tokens
     * take no more registers, only the shared level vectors stay live, and every float step is {@link #dot}'s with the same operands:
     * each value is bit for bit {@link #dot}'s. Fewer tokens run through {@link #dot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(Q6_K, xOffset, TOKENS * cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int blocks = cols / QK;
        // Token t's s and A_i at 64t, laid out as dot's.
        KernelScratch scratch = KernelScratch.get();
        int[] s = scratch.ints(TOKENS * 8 * ROWS);
        float[] acc = scratch.zeroedFloats(TOKENS * 8 * ROWS);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset / QK + b;
            int pair = xb * QK / 2;
            halfTokens(packed, block, 0, pairs, pair, cols / 2, s, false);
            halfTokens(packed, block, 1, pairs, pair + 64, cols / 2, s, true);
            accumulateTokens(packed, block, s, sums, xb, blocks, scales, acc);
        }
        // dot's hsum_float_8 order, token by token.
        for (int t = 0; t < TOKENS; t++) {
            int a = 64 * t;
            FloatVector.fromArray(IntLanes.F, acc, a).add(FloatVector.fromArray(IntLanes.F, acc, a + 32))
                    .add(FloatVector.fromArray(IntLanes.F, acc, a + 16).add(FloatVector.fromArray(IntLanes.F, acc, a + 48)))
                    .add(FloatVector.fromArray(IntLanes.F, acc, a + 8).add(FloatVector.fromArray(IntLanes.F, acc, a + 40))
                            .add(FloatVector.fromArray(IntLanes.F, acc, a + 24).add(FloatVector.fromArray(IntLanes.F, acc, a + 56))))
                    .intoArray(out, outOffset + t * outStride);
        }
    }

    /**
     * {@link #half} for four tokens, token t's pairs {@code t * tokenPairs} further on and its sums at
     * {@code s[64t..64t+64)}: a lane's three words are unpacked into its eight level vectors once and each run's
     * scales once, which the tokens share; the products and sums are {@link #half}'s, token after token, so only
     * one token's partial sums are live at a time.
     */
    private static void halfTokens(MemorySegment packed, long block, int n, short[] pairs, int pair, int tokenPairs,
                                   int[] s, boolean add) {
        IntVector scaleWords0 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64L * n, ByteOrder.LITTLE_ENDIAN);
        IntVector scaleWords1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 64L * n + 32, ByteOrder.LITTLE_ENDIAN);
        long levels = block + LEVELS + (long) HALF * n;
        for (int upper = 0; upper < 2; upper++) {
            IntVector sc0 = scaleWords0.lanewise(VectorOperators.LSHL, 24 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc1 = scaleWords0.lanewise(VectorOperators.LSHL, 8 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc2 = scaleWords1.lanewise(VectorOperators.LSHL, 24 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            IntVector sc3 = scaleWords1.lanewise(VectorOperators.LSHL, 8 - 8 * upper).lanewise(VectorOperators.ASHR, 24);
            for (int j = 0; j < 4; j++) {
                int i = 4 * upper + j;
                long words = levels + 96L * i;
                IntVector w0 = IntVector.fromMemorySegment(IntLanes.I, packed, words, ByteOrder.LITTLE_ENDIAN);
                IntVector w1 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 32, ByteOrder.LITTLE_ENDIAN);
                IntVector w2 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 64, ByteOrder.LITTLE_ENDIAN);
                ShortVector l0 = w0.and(SIX_BITS).reinterpretAsShorts();
                ShortVector l1 = w0.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts();
                ShortVector l2 = w1.and(SIX_BITS).reinterpretAsShorts();
                ShortVector l3 = w1.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts();
                ShortVector l4 = w2.and(SIX_BITS).reinterpretAsShorts();
                ShortVector l5 = w2.lanewise(VectorOperators.LSHR, 6).and(SIX_BITS).reinterpretAsShorts();
                ShortVector l6 = w0.lanewise(VectorOperators.LSHR, 12).and(0x000F_000F)
                        .or(w1.lanewise(VectorOperators.LSHR, 8).and(0x0030_0030)).reinterpretAsShorts();
                ShortVector l7 = w1.lanewise(VectorOperators.LSHR, 14).and(0x0003_0003)
                        .or(w2.lanewise(VectorOperators.LSHR, 10).and(0x003C_003C)).reinterpretAsShorts();
                for (int t = 0; t < TOKENS; t++) {
                    int p = pair + i + t * tokenPairs;
                    int at = 64 * t + ROWS * i;
                    IntVector a0 = l0.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * p))
                            .add(l1.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 8)))).reinterpretAsInts();
                    IntVector a1 = l2.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 16)))
                            .add(l3.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 24)))).reinterpretAsInts();
                    IntVector a2 = l4.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 32)))
                            .add(l5.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 40)))).reinterpretAsInts();
                    IntVector a3 = l6.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 48)))
                            .add(l7.mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 56)))).reinterpretAsInts();
                    IntVector sum = a0.add(a0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0)
                            .add(a1.add(a1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1))
                            .add(a2.add(a2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc2))
                            .add(a3.add(a3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc3));
                    if (add) {
                        sum = sum.add(IntVector.fromArray(IntLanes.I, s, at));
                    }
                    sum.intoArray(s, at);
                }
            }
        }
    }

    /**
     * {@link #accumulate} for four tokens, token t's sums of 16 and d_x {@code t * blocks} super-blocks on from
     * super-block {@code xb} and its s and A_i at 64t: the rows' d and each lane's pair of scale bytes are unpacked
     * once, the offsets and the float steps are {@link #accumulate}'s per token, d·d_x the same product.
     */
    private static void accumulateTokens(MemorySegment packed, long block, int[] s, int[] sums, int xb, int blocks,
                                         float[] scales, float[] acc) {
        FloatVector dw = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
        for (int v = 0; v < 4; v++) {
            IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * v, ByteOrder.LITTLE_ENDIAN);
            for (int e = 0; e < 2; e++) {
                int i = 2 * v + e;
                IntVector even = words.lanewise(VectorOperators.LSHL, 24 - 16 * e).lanewise(VectorOperators.ASHR, 24);
                IntVector odd = words.lanewise(VectorOperators.LSHL, 16 - 16 * e).lanewise(VectorOperators.ASHR, 24);
                for (int t = 0; t < TOKENS; t++) {
                    int xt = xb + t * blocks;
                    int s16 = xt * ActivationRounding.SUMS_PER_BLOCK;
                    int a = 64 * t + ROWS * i;
                    IntVector offsets = even.mul(sums[s16 + i]).add(odd.mul(sums[s16 + 8 + i])).lanewise(VectorOperators.LSHL, 5);
                    ((FloatVector) IntVector.fromArray(IntLanes.I, s, a).sub(offsets).convert(VectorOperators.I2F, 0))
                            .fma(dw.mul(scales[xt]), FloatVector.fromArray(IntLanes.F, acc, a)).intoArray(acc, a);
                }
            }
        }
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
                for (int n = 0; n < 2; n++) {
                    for (int k = 0; k < 4; k++) {
                        for (int l = 0; l < 32; l++) {
                            dst[y + (b * QK + 128 * n + 32 * k + l) * colStride] =
                                    d * scale(packed, block, r, 8 * n + 2 * k + l / 16) * (level(packed, block, r, n, k, l) - 32);
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): 32-bit lane r of a level word
     * holds two of row r's 16-bit words, so shifts and masks yield a level of every row at once. Each value is
     * (d·scale)·(level − 32), rounded as the format's own decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        // Each run's d·scale reaches wordColumns (too big to inline) through an array: a vector passed to a call
        // is boxed.
        float[] dj = new float[4 * ROWS];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
            for (int n = 0; n < 2; n++) {
                for (int upper = 0; upper < 2; upper++) {
                    for (int k = 0; k < 4; k++) {
                        // Run k's elements 16·upper .. +16 lie in sub-block 8n + 2k + upper.
                        int j = 8 * n + 2 * k + upper;
                        IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (j / 4),
                                ByteOrder.LITTLE_ENDIAN);
                        d.mul(IntLanes.toFloat(words.lanewise(VectorOperators.LSHL, 24 - 8 * (j % 4))
                                .lanewise(VectorOperators.ASHR, 24))).intoArray(dj, ROWS * k);
                    }
                    for (int i = 4 * upper; i < 4 * upper + 4; i++) {
                        wordColumns(packed, block + LEVELS + (long) HALF * n + 96L * i, dj, dst,
                                dstOffset + (b * QK + 128 * n + 4 * i) * colStride, colStride);
                    }
                }
            }
        }
    }

    /**
     * The sixteen columns held by the three level words at {@code words}: run k's elements 4i .. 4i + 3 go to
     * {@code run + (32k + e)·colStride}, each (dj of run k)·(level − 32).
     */
    private static void wordColumns(MemorySegment packed, long words, float[] dj, float[] dst, int run, int colStride) {
        IntVector w0 = IntVector.fromMemorySegment(IntLanes.I, packed, words, ByteOrder.LITTLE_ENDIAN);
        IntVector w1 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 32, ByteOrder.LITTLE_ENDIAN);
        IntVector w2 = IntVector.fromMemorySegment(IntLanes.I, packed, words + 64, ByteOrder.LITTLE_ENDIAN);
        for (int o = 0; o < 8; o++) {
            IntVector v = switch (o) {
                case 0 -> w0;
                case 1 -> w0.lanewise(VectorOperators.LSHR, 6);
                case 2 -> w1;
                case 3 -> w1.lanewise(VectorOperators.LSHR, 6);
                case 4 -> w2;
                case 5 -> w2.lanewise(VectorOperators.LSHR, 6);
                case 6 -> w0.lanewise(VectorOperators.LSHR, 12).and(0x000F_000F)
                        .or(w1.lanewise(VectorOperators.LSHR, 8).and(0x0030_0030));
                default -> w1.lanewise(VectorOperators.LSHR, 14).and(0x0003_0003)
                        .or(w2.lanewise(VectorOperators.LSHR, 10).and(0x003C_003C));
            };
            FloatVector factor = FloatVector.fromArray(IntLanes.F, dj, ROWS * (o / 2));
            int column = run + (32 * (o / 2) + o % 2) * colStride;
            IntLanes.toFloat(v.and(0x3F).sub(32)).mul(factor).intoArray(dst, column);
            IntLanes.toFloat(v.lanewise(VectorOperators.LSHR, 16).and(0x3F).sub(32)).mul(factor)
                    .intoArray(dst, column + 2 * colStride);
        }
    }

    /** Row r's level (0..63) of element l of run k of half n: the 16-bit word it lies in, then its bit field. */
    private static int level(MemorySegment packed, long block, int r, int n, int k, int l) {
        long words = block + LEVELS + (long) HALF * n + 96L * (l / 4) + 4L * r + 2L * ((l % 4) / 2);
        int w0 = packed.get(ValueLayouts.I16, words) & 0xFFFF;
        int w1 = packed.get(ValueLayouts.I16, words + 32) & 0xFFFF;
        int w2 = packed.get(ValueLayouts.I16, words + 64) & 0xFFFF;
        return switch (2 * k + l % 2) {
            case 0 -> w0 & 0x3F;
            case 1 -> (w0 >> 6) & 0x3F;
            case 2 -> w1 & 0x3F;
            case 3 -> (w1 >> 6) & 0x3F;
            case 4 -> w2 & 0x3F;
            case 5 -> (w2 >> 6) & 0x3F;
            case 6 -> w0 >> 12 | ((w1 >> 12) & 3) << 4;
            default -> w1 >> 14 | (w2 >> 12) << 2;
        };
    }

    /** Row r's signed scale of sub-block j. */
    private static byte scale(MemorySegment packed, long block, int r, int j) {
        return packed.get(ValueLayouts.I8, block + SCALES + 32L * (j / 4) + 4L * r + j % 4);
    }
}
