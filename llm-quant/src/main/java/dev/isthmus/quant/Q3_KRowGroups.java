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
import jdk.incubator.vector.VectorShuffle;

/**
 * Q3_K weights eight rows at a time ({@link RowGroupLayout}), laid out as {@link Q2_KRowGroups} lays out Q2_K's
 * 2-bit levels, with the high bits in a plane of their own, so that the kernel needs only full loads, lane-wise
 * integer arithmetic and reinterpretations.
 *
 * <p>A super-block column of the group takes 880 bytes, as many as the eight rows' own super-blocks:
 * <ul>
 *   <li>96 bytes, three vectors S0, S1, S2: the rows' sixteen 6-bit scales, stored less 32 (−32..31, two's
 *       complement). Scale f &lt; 15 of row r lies in bits 6·(f % 5)..6·(f % 5) + 5 of lane r of S(f / 5); scale 15
 *       in bits 30, 31 of S0 (its bits 0, 1), of S1 (bits 2, 3) and of S2 (bits 4, 5, the sign);
 *   <li>16 bytes: the rows' F16 {@code d}, row after row (bytes 108, 109 of their blocks as they are);
 *   <li>256 bytes: eight vectors H_v, one per pair of sub-blocks 2v + t: row r's 32 high bits (the file's
 *       {@code hmask} bits: set means level = low bits, clear means low bits − 4) in lane r, the bit of slot k of
 *       16-bit half e of sub-block 2v + t at bit 16e + 4·(k / 2) + 2·(1 − t) + k % 2;
 *   <li>512 bytes: sixteen vectors, one per sub-block j, exactly as {@link Q2_KRowGroups} holds Q2_K's levels:
 *       32-bit lane r holds row r's sixteen 2-bit low levels, slot k of 16-bit half e (bits 2k, 2k + 1) holding
 *       weight 16j + 4·(k % 4) + 2e + k / 4.
 * </ul>
 *
 * <p>The kernel merges the planes a nibble per slot: X0 holds the even slots k = 2m of both halves in nibbles m,
 * their low levels as they lie in L and bit 2 of each nibble taken from the high-bit vector, shifted so that the
 * sub-block's bits for the even slots fall there (X0 = L ^ ((L ^ H') &amp; 0x4444_4444)); X1 the same from L &gt;&gt;&gt; 2
 * for the odd slots. Bits 2..0 of each nibble are low + 4·high = level + 4 (0..7); bit 3 is another slot's and is
 * masked off with the rest when a nibble is taken. One shift and mask then take a nibble of all sixteen 16-bit
 * lanes, which multiplies its activation pair vector as in Q2_K. The offset of 4 is taken off once per sub-block:
 * Σ level·q = Σ (level + 4)·q − 4·Σ q, Σ q being the sub-block's Q8_K sum of 16 ({@code bsums}).
 *
 * <p>The activations are the k-quants' own Q8_K levels (even/odd order within every 32) paired as they lie
 * ({@link QuantizedActivations#pairLevels}): a pair holds weights (4i, 4i + 2) or (4i + 1, 4i + 3) of a 32-run, and
 * slot k of a sub-block needs the pair of its weights 4·(k % 4) + k / 4 and 4·(k % 4) + k / 4 + 2. Before they are
 * broadcast as vectors ({@link QuantizedActivations#pairVectors}) the pairs of each super-block are reordered
 * sub-block after sub-block, slot after slot (pair 8j + k), and the sums of 16 put in sub-block order as −4·Σ q,
 * so that the kernel's indices run linearly with the sub-block.
 *
 * <p>llama.cpp does not repack Q3_K; its {@code ggml_vec_dot_q3_K_q8_K} (and {@link Q3_KFormat#dotQuantized}) sums
 * the same exact integers per row and super-block, S = Σ_j (scale_j − 32)·Σ level·q, but adds its float lanes in
 * another order, so results agree with it to float rounding. Here each row keeps one running sum,
 * {@code acc = fma(S, d·d_x, acc)}, super-block after super-block.
 */
final class Q3_KRowGroups implements RowGroupLayout {
    private static final int ROWS = 8;
    private static final int QK = 256;
    private static final int HALVES = 96;
    private static final int HIGH = HALVES + 16;
    private static final int LEVELS = HIGH + 8 * 32;
    private static final int BLOCK_BYTES = LEVELS + 16 * 32;
    /** The low levels of the even (or, shifted by 2, odd) slots, each at the bottom of its nibble (decoding). */
    private static final int LOW = 0x3333_3333;
    /** Bit 2 of every nibble: where each slot's high bit joins its low level. */
    private static final int HIGH_BITS = 0x4444_4444;
    /**
     * Bits 2..0 of nibble 0 of both 16-bit halves of a 32-bit lane, a slot's level + 4 (int shifts take an immediate
     * count, short shifts do not).
     */
    private static final int NIBBLE = 0x0007_0007;
    private static final float TWO_POW_112 = 0x1p112f;
    /**
     * Loaded from 16 bytes before the halves, lanes 4..7 hold rows (0, 1), (2, 3), (4, 5), (6, 7): row r's to lane r,
     * then shifted left by 16 for even r, so that each lane's high half is its row's {@code d}.
     */
    private static final VectorShuffle<Integer> D_LANES = VectorShuffle.fromValues(IntLanes.I, 4, 4, 5, 5, 6, 6, 7, 7);
    private static final IntVector D_SHIFTS = IntVector.fromArray(IntLanes.I, new int[] {16, 0, 16, 0, 16, 0, 16, 0}, 0);
    private static final Q3_KFormat Q3_K = new Q3_KFormat();

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
        return RowGroupFit.fits(weight, GgmlType.Q3_K, 108);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.Q3_K, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        int[] scales = new int[16];
        // As Q2_K's pack: each block's low levels and high bits unpacked once, then gathered into slots.
        byte[] file = new byte[Q3_KFormat.BLOCK_BYTES];
        int[] lows = new int[QK];
        int[] highs = new int[QK];
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q3_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                MemorySegment.copy(src, ValueLayouts.I8, from, file, 0, file.length);
                fileLevels(file, lows, highs);
                Q3_KFormat.scales(src, from, scales);
                int[] words = new int[3];
                for (int f = 0; f < 15; f++) {
                    words[f / 5] |= (scales[f] & 63) << (6 * (f % 5));
                }
                for (int v = 0; v < 3; v++) {
                    words[v] |= ((scales[15] >> (2 * v)) & 3) << 30;
                    dst.set(ValueLayouts.I32, to + 32L * v + 4L * r, words[v]);
                }
                dst.set(ValueLayouts.I16, to + HALVES + 2L * r, src.get(ValueLayouts.I16, from + 108));
                for (int v = 0; v < 8; v++) {
                    int word = 0;
                    for (int t = 0; t < 2; t++) {
                        for (int e = 0; e < 2; e++) {
                            for (int k = 0; k < 8; k++) {
                                word |= highs[16 * (2 * v + t) + weightOfSlot(e, k)]
                                        << (16 * e + 4 * (k / 2) + 2 * (1 - t) + k % 2);
                            }
                        }
                    }
                    dst.set(ValueLayouts.I32, to + HIGH + 32L * v + 4L * r, word);
                }
                for (int j = 0; j < 16; j++) {
                    dst.set(ValueLayouts.I32, to + LEVELS + 32L * j + 4L * r, Q2_KRowGroups.slotWord(lows, 16 * j));
                }
            }
        }
    }

    /** Which weight of its sub-block slot k of 16-bit half e holds (see the class comment). */
    private static int weightOfSlot(int e, int k) {
        return 4 * (k % 4) + 2 * e + k / 4;
    }

    /**
     * The super-block's 256 low levels (0..3; weight 128n + 32j + l is bits 2j of qs[32n + l]) and high bits (weight
     * i's is bit i / 32 of hmask[i % 32]; 1 means no offset of −4), in weight order.
     */
    private static void fileLevels(byte[] block, int[] lows, int[] highs) {
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int q = block[32 + 32 * n + l] & 0xFF;
                for (int j = 0; j < 4; j++) {
                    lows[128 * n + 32 * j + l] = q >> 2 * j & 3;
                }
            }
        }
        for (int i = 0; i < QK; i++) {
            highs[i] = (block[i % 32] & 0xFF) >> (i / 32) & 1;
        }
    }

    /**
     * Q8_K as the format quantizes, then paired; each super-block's 128 pairs reordered to pair 8j + k = the pair that
     * slot k of sub-block j multiplies, and its sums of 16 to sums[16b + j] = −4·(sum of sub-block j) (class comment).
     */
    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q3_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        int[] pairs = dst.pairs();
        int[] sums = dst.sums();
        // This thread's scratch: the kernels that use it later run after this fill is done with it.
        int[] block = KernelScratch.get().ints(QK / 2);
        for (int b = 0; b < count / QK; b++) {
            System.arraycopy(pairs, b * QK / 2, block, 0, QK / 2);
            for (int j = 0; j < 16; j++) {
                for (int k = 0; k < 8; k++) {
                    pairs[b * QK / 2 + 8 * j + k] = block[16 * (j >> 1) + 4 * (j & 1) + (k & 3) + 8 * (k >> 2)];
                }
            }
            int s16 = b * ActivationRounding.SUMS_PER_BLOCK;
            System.arraycopy(sums, s16, block, 0, 16);
            for (int j = 0; j < 16; j++) {
                sums[s16 + j] = -4 * block[(j >> 1) + ((j & 1) << 3)];
            }
        }
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per super-block and row: S exactly in 32-bit lanes, then one FMA.
     *
     * <p>Bounds: a nibble is 0..7 and an activation level |q| ≤ 127, so a 16-bit lane's eight products sum to at
     * most 8 × 7 × 127 = 7112 and a row's two lanes to 14224 &lt; 2^15: exact before they are widened. A sub-block's
     * Σ level·q (level −4..3) is at most 16 × 4 × 127 = 8128, times a scale −32..31 and over 16 sub-blocks
     * |S| ≤ 16 × 32 × 8128 = 4161536 &lt; 2^22, so the integer-only conversion to float is exact.
     *
     * <p>First the sixteen scale vectors of the super-block are unpacked into this thread's scratch (fifteen take a
     * shift left and an arithmetic shift right; the sixteenth, split over three words, a few more), so that the
     * loop over sub-blocks reads each as a memory operand of its multiply. Then one flat loop over the sixteen
     * sub-blocks: the nibbles X0, X1 (class comment), their eight nibbles times their pair vectors summed in 16-bit
     * lanes, a row's two lanes summed ({@code x + (x << 16)} holds their sum in its high half, brought down by an
     * arithmetic shift), −4·Σ q added and the rest weighted by the row's scale.
     *
     * <p>Measured on one thread (4096 × 4096, Zen 3, the single-row kernel at 3.0 GB/s in the same runs): the planes
     * merged with and/or and three mask constants, two sub-blocks per iteration sharing their high-bit vector,
     * 6.3 GB/s (C2 reloaded the masks for every use and spilled the pair vectors); merged by xor with two masks,
     * 6.9; one sub-block per iteration, its high-bit vector shifted by a variable count, 7.6; with the pairs and
     * sums reordered so that their indices are linear in the sub-block (C2 then drops their range checks), 8.0.
     *
     * <p>Deliberately one method of Vector API calls only and more than 325 bytecodes ({@code FreqInlineSize},
     * checked by {@code KernelInliningTest}): helpers of our own that take or return vectors may be left calls
     * by C2 and box their vectors, and a kernel small enough to be inlined into the backend's loop beside another
     * format's exhausts C2's node budget there.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q3_K, xOffset, cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int[] sc = KernelScratch.get().ints(16 * ROWS);
        int xBlock = xOffset / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xBlock + b;
            IntVector s0 = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector s1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector s2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 64, ByteOrder.LITTLE_ENDIAN);
            for (int f = 0; f < 5; f++) {
                int shift = 26 - 6 * f;
                s0.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f);
                s1.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 40);
                s2.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 80);
            }
            s0.lanewise(VectorOperators.LSHR, 30).or(s1.lanewise(VectorOperators.LSHR, 28).and(0x0C))
                    .or(s2.lanewise(VectorOperators.ASHR, 26).and(~0x0F)).intoArray(sc, 120);
            // Pair vectors of the super-block: 16 shorts each, 128 of them, 8 per sub-block in slot order.
            int p0 = 16 * (QK / 2) * xb;
            int s16 = xb * ActivationRounding.SUMS_PER_BLOCK;
            IntVector s = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 16; j++) {
                int p = p0 + 128 * j;
                // Sub-block 2i's high bits lie at bits 4n + 2 (even slots) and 4n + 3 (odd), 2i + 1's two below.
                IntVector h = IntVector.fromMemorySegment(IntLanes.I, packed, block + HIGH + 32L * (j >> 1), ByteOrder.LITTLE_ENDIAN)
                        .lanewise(VectorOperators.LSHL, 2 * (j & 1));
                IntVector q = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j, ByteOrder.LITTLE_ENDIAN);
                IntVector x0 = q.lanewise(VectorOperators.XOR, q.lanewise(VectorOperators.XOR, h).and(HIGH_BITS));
                IntVector t = q.lanewise(VectorOperators.LSHR, 2);
                IntVector x1 = t.lanewise(VectorOperators.XOR, t.lanewise(VectorOperators.XOR, h.lanewise(VectorOperators.LSHR, 1)).and(HIGH_BITS));
                // Slot 2m is nibble m of x0, slot 2m + 1 nibble m of x1; slot k multiplies pair vector k.
                ShortVector sum = x0.and(NIBBLE).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p))
                        .add(x1.and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16)))
                        .add(x0.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32)))
                        .add(x1.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48)))
                        .add(x0.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 64)))
                        .add(x1.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 80)))
                        .add(x0.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 96)))
                        .add(x1.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 112)));
                IntVector halves = sum.reinterpretAsInts();
                s = s.add(halves.add(halves.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                        .add(sums[s16 + j]).mul(IntVector.fromArray(IntLanes.I, sc, 8 * j)));
            }
            // Row r's F16 d to the high half of lane r, its bits moved into place and scaled by 2^112, exact for
            // every finite half (subnormals included); then times d_x, rounded once.
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block + HALVES - 16, ByteOrder.LITTLE_ENDIAN)
                    .rearrange(D_LANES).lanewise(VectorOperators.LSHL, D_SHIFTS);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112).mul(scales[xb]);
            // |S| < 2^22: v + 1.5·2^23's bits is the float 1.5·2^23 + v (IntLanes.smallToFloat), exact.
            acc = s.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d, acc);
        }
        acc.intoArray(out, outOffset);
    }

    @Override
    public int tokensPerCall() {
        return TOKENS;
    }

    /**
     * Tokens one {@link #dotTokens} call multiplies with each sub-block's merged nibbles: with four, one thread ran
     * at 35.2 GFLOP/s against the token-by-token kernel's 37.6 (64 × 2048 weights, in cache); with two at 42.5.
     */
    private static final int TOKENS = 2;

    /**
     * Two tokens at a time: each super-block's scales are unpacked and d widened once, each sub-block's planes
     * merged into X0, X1 and each nibble taken once, then the nibble meets each token's pair vector as in
     * {@link #dot}. A token's exact sums are {@link #dot}'s, and its float steps (d × d_x, the conversion, the FMA)
     * {@link #dot}'s with the same operands, so every value is bit for bit {@link #dot}'s. Nibble after nibble,
     * each token's 16-bit sum takes its product, so that only one nibble is live beside the tokens' sums. Other
     * counts run through {@link #dot}; one method of Vector API calls only, as {@link #dot} is, and for the same
     * reasons.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(Q3_K, xOffset, TOKENS * cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int[] sc = KernelScratch.get().ints(16 * ROWS);
        int blocks = cols / QK;
        int xBlock = xOffset / QK;
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb0 = xBlock + b;
            int xb1 = xb0 + blocks;
            IntVector sc0 = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector sc1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector sc2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 64, ByteOrder.LITTLE_ENDIAN);
            for (int f = 0; f < 5; f++) {
                int shift = 26 - 6 * f;
                sc0.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f);
                sc1.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 40);
                sc2.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 80);
            }
            sc0.lanewise(VectorOperators.LSHR, 30).or(sc1.lanewise(VectorOperators.LSHR, 28).and(0x0C))
                    .or(sc2.lanewise(VectorOperators.ASHR, 26).and(~0x0F)).intoArray(sc, 120);
            int p0 = 16 * (QK / 2) * xb0;
            int p1 = 16 * (QK / 2) * xb1;
            int u0 = xb0 * ActivationRounding.SUMS_PER_BLOCK;
            int u1 = xb1 * ActivationRounding.SUMS_PER_BLOCK;
            IntVector s0 = IntVector.zero(IntLanes.I);
            IntVector s1 = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 16; j++) {
                int o = 128 * j;
                IntVector h = IntVector.fromMemorySegment(IntLanes.I, packed, block + HIGH + 32L * (j >> 1), ByteOrder.LITTLE_ENDIAN)
                        .lanewise(VectorOperators.LSHL, 2 * (j & 1));
                IntVector q = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j, ByteOrder.LITTLE_ENDIAN);
                IntVector x0 = q.lanewise(VectorOperators.XOR, q.lanewise(VectorOperators.XOR, h).and(HIGH_BITS));
                IntVector t = q.lanewise(VectorOperators.LSHR, 2);
                IntVector x1 = t.lanewise(VectorOperators.XOR, t.lanewise(VectorOperators.XOR, h.lanewise(VectorOperators.LSHR, 1)).and(HIGH_BITS));
                ShortVector n0 = x0.and(NIBBLE).reinterpretAsShorts();
                ShortVector m0 = n0.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o));
                ShortVector m1 = n0.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o));
                ShortVector n1 = x1.and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n1.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 16)));
                m1 = m1.add(n1.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 16)));
                ShortVector n2 = x0.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n2.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 32)));
                m1 = m1.add(n2.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 32)));
                ShortVector n3 = x1.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n3.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 48)));
                m1 = m1.add(n3.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 48)));
                ShortVector n4 = x0.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n4.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 64)));
                m1 = m1.add(n4.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 64)));
                ShortVector n5 = x1.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n5.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 80)));
                m1 = m1.add(n5.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 80)));
                ShortVector n6 = x0.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n6.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 96)));
                m1 = m1.add(n6.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 96)));
                ShortVector n7 = x1.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts();
                m0 = m0.add(n7.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + o + 112)));
                m1 = m1.add(n7.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + o + 112)));
                IntVector scale = IntVector.fromArray(IntLanes.I, sc, 8 * j);
                IntVector halves0 = m0.reinterpretAsInts();
                s0 = s0.add(halves0.add(halves0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                        .add(sums[u0 + j]).mul(scale));
                IntVector halves1 = m1.reinterpretAsInts();
                s1 = s1.add(halves1.add(halves1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                        .add(sums[u1 + j]).mul(scale));
            }
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block + HALVES - 16, ByteOrder.LITTLE_ENDIAN)
                    .rearrange(D_LANES).lanewise(VectorOperators.LSHL, D_SHIFTS);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            acc0 = s0.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d.mul(scales[xb0]), acc0);
            acc1 = s1.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d.mul(scales[xb1]), acc1);
        }
        acc0.intoArray(out, outOffset);
        acc1.intoArray(out, outOffset + outStride);
    }

    /** Row r's scale (−32..31) of sub-block j of the super-block column at {@code block}. */
    private static int scale(MemorySegment packed, long block, int r, int j) {
        if (j < 15) {
            return packed.get(ValueLayouts.I32, block + 32L * (j / 5) + 4L * r) << (26 - 6 * (j % 5)) >> 26;
        }
        int s = 0;
        for (int v = 0; v < 3; v++) {
            s |= (packed.get(ValueLayouts.I32, block + 32L * v + 4L * r) >>> 30) << (2 * v);
        }
        return s << 26 >> 26;
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
                float d = QuantVectors.f16(packed, block + HALVES + 2L * r);
                int y = dstOffset + r * rowStride;
                for (int j = 0; j < 16; j++) {
                    // As the format's decoders round: d·scale first, then that times the level.
                    float dl = d * scale(packed, block, r, j);
                    int lows = packed.get(ValueLayouts.I32, block + LEVELS + 32L * j + 4L * r);
                    int highs = packed.get(ValueLayouts.I32, block + HIGH + 32L * (j / 2) + 4L * r);
                    for (int e = 0; e < 2; e++) {
                        for (int k = 0; k < 8; k++) {
                            int q = (lows >>> (16 * e + 2 * k)) & 3;
                            int h = (highs >>> (16 * e + 4 * (k / 2) + 2 * (1 - j % 2) + k % 2)) & 1;
                            dst[y + (b * QK + 16 * j + weightOfSlot(e, k)) * colStride] = dl * (q + 4 * h - 4);
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): 32-bit lane r holds row r's
     * levels, so the kernel's nibbles X0, X1 give a level of every row at once. Each value is (d·scale)·level,
     * rounded as the format's own decoders round it.
     *
     * <p>Vector API calls only, as in {@link #dot}: with {@link IntLanes#smallToFloat} for the int-to-float steps and
     * the scales chosen per sub-block by branches, C2 left calls that boxed their vectors, 0.64 Gvalues/s against
     * 5.6 written out so (1024 × 4096, one thread; the format's own row decoder 2.2).
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        int[] sc = KernelScratch.get().ints(16 * ROWS);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block + HALVES - 16, ByteOrder.LITTLE_ENDIAN)
                    .rearrange(D_LANES).lanewise(VectorOperators.LSHL, D_SHIFTS);
            FloatVector d = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            IntVector s0 = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector s1 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector s2 = IntVector.fromMemorySegment(IntLanes.I, packed, block + 64, ByteOrder.LITTLE_ENDIAN);
            for (int f = 0; f < 5; f++) {
                int shift = 26 - 6 * f;
                s0.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f);
                s1.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 40);
                s2.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 26).intoArray(sc, 8 * f + 80);
            }
            s0.lanewise(VectorOperators.LSHR, 30).or(s1.lanewise(VectorOperators.LSHR, 28).and(0x0C))
                    .or(s2.lanewise(VectorOperators.ASHR, 26).and(~0x0F)).intoArray(sc, 120);
            for (int j = 0; j < 16; j++) {
                FloatVector dl = IntVector.fromArray(IntLanes.I, sc, 8 * j).add(0x4B40_0000).reinterpretAsFloats()
                        .sub(0x1.8p23f).mul(d);
                IntVector q = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j, ByteOrder.LITTLE_ENDIAN);
                IntVector h = IntVector.fromMemorySegment(IntLanes.I, packed, block + HIGH + 32L * (j >> 1), ByteOrder.LITTLE_ENDIAN)
                        .lanewise(VectorOperators.LSHL, 2 * (j & 1));
                IntVector x0 = q.and(LOW).or(h.and(HIGH_BITS));
                IntVector x1 = q.lanewise(VectorOperators.LSHR, 2).and(LOW).or(h.lanewise(VectorOperators.LSHR, 1).and(HIGH_BITS));
                int column = dstOffset + (b * QK + 16 * j) * colStride;
                for (int e = 0; e < 2; e++) {
                    for (int m = 0; m < 4; m++) {
                        // Slots 2m (in x0) and 2m + 1 (in x1): weights 4·((2m) % 4) + 2e + (2m) / 4 and one more,
                        // written out (C2 left weightOfSlot a call in Q2_K's decoder, spilling every vector).
                        int w = 8 * (m & 1) + 2 * e + (m >> 1);
                        int shift = 16 * e + 4 * m;
                        x0.lanewise(VectorOperators.LSHR, shift).and(0x0F).add(0x4B40_0000 - 4).reinterpretAsFloats()
                                .sub(0x1.8p23f).mul(dl).intoArray(dst, column + w * colStride);
                        x1.lanewise(VectorOperators.LSHR, shift).and(0x0F).add(0x4B40_0000 - 4).reinterpretAsFloats()
                                .sub(0x1.8p23f).mul(dl).intoArray(dst, column + (w + 4) * colStride);
                    }
                }
            }
        }
    }
}
