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
 * Q2_K weights eight rows at a time ({@link RowGroupLayout}), laid out so that one 256-bit vector holds one
 * sub-block (16 weights) of all eight rows and the kernel needs only full loads, lane-wise integer arithmetic and
 * reinterpretations.
 *
 * <p>A super-block column of the group takes 672 bytes, as many as the eight rows' own super-blocks:
 * <ul>
 *   <li>32 bytes: 32-bit lane r holds row r's F16 {@code d} in its low half and {@code dmin} in its high half
 *       (bytes 80..83 of its block as they are);
 *   <li>128 bytes: four vectors, lane r of vector v holding row r's (scale, min) bytes 4v..4v+3;
 *   <li>512 bytes: sixteen vectors, one per sub-block j (weights 16j..16j+15 of the super-block). 32-bit lane r
 *       holds row r's sixteen 2-bit levels of the sub-block: bits 2k, 2k + 1 of its 16-bit half e ("slot k")
 *       hold weight 16j + 4·(k % 4) + 2e + k / 4.
 * </ul>
 * The activations are the k-quants' own Q8_K levels (even/odd order within every 32) paired as they lie
 * ({@link QuantizedActivations#pairLevels}) and broadcast as vectors ({@link QuantizedActivations#pairVectors}):
 * a pair holds weights (4i, 4i + 2) or (4i + 1, 4i + 3) of a 32-run. Slot k of a sub-block's vector is exactly
 * what the pair of weights 4·(k % 4) + k / 4 and 4·(k % 4) + k / 4 + 2 of the sub-block needs in lanes 2r and
 * 2r + 1, so slot k extracted (a shift and a mask) multiplies one pair vector and the eight slots' products pile
 * up in 16-bit lanes: 8 products of at most 3 × 127, |sum| ≤ 3048, exact.
 *
 * <p>llama.cpp does not repack Q2_K on x86; its {@code ggml_vec_dot_q2_K_q8_K} (and {@link Q2_KFormat#dotQuantized})
 * sums the same integers per row and super-block, S = Σ_j scale_j × Σ level × activation level and
 * M = Σ_j min_j × (activation sum of sub-block j), but adds its float lanes in another order, so results agree
 * with it to float rounding. Here each row keeps two running sums, {@code acc = fma(S, d·d_x, acc)} and
 * {@code accMin = fma(M, dmin·d_x, accMin)}, super-block after super-block, and gives {@code acc − accMin}, as
 * the Q4_K and Q5_K group kernels do.
 */
final class Q2_KRowGroups implements RowGroupLayout {
    private static final int ROWS = 8;
    private static final int QK = 256;
    private static final int SCALES = 32;
    private static final int LEVELS = SCALES + 128;
    private static final int BLOCK_BYTES = LEVELS + 16 * 32;
    /** Slot 0 of both 16-bit halves of a 32-bit lane (int shifts take an immediate count, short shifts do not). */
    private static final int SLOT = 0x0003_0003;
    private static final float TWO_POW_112 = 0x1p112f;
    private static final Q2_KFormat Q2_K = new Q2_KFormat();

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
        return RowGroupFit.fits(weight, GgmlType.Q2_K, 80, 82);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, GgmlType.Q2_K, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        // Each block's levels unpacked once into an array, then gathered into slots: computing every slot's level
        // from the file's bit fields on its own took most of the load time of a Q2_K model.
        byte[] file = new byte[Q2_KFormat.BLOCK_BYTES];
        int[] levels = new int[QK];
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q2_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                MemorySegment.copy(src, ValueLayouts.I8, from, file, 0, file.length);
                fileLevels(file, levels);
                dst.set(ValueLayouts.I32, to + 4L * r, src.get(ValueLayouts.I32, from + 80));
                for (int v = 0; v < 4; v++) {
                    dst.set(ValueLayouts.I32, to + SCALES + 32L * v + 4L * r, src.get(ValueLayouts.I32, from + 4 * v));
                }
                for (int j = 0; j < 16; j++) {
                    dst.set(ValueLayouts.I32, to + LEVELS + 32L * j + 4L * r, slotWord(levels, 16 * j));
                }
            }
        }
    }

    /** Which weight of its sub-block slot k of 16-bit half e holds (see the class comment). */
    private static int weightOfSlot(int e, int k) {
        return 4 * (k % 4) + 2 * e + k / 4;
    }

    /** The super-block's 256 levels (0..3) in weight order: weight 128n + 32j + l is bits 2j of qs[32n + l]. */
    private static void fileLevels(byte[] block, int[] levels) {
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int q = block[16 + 32 * n + l] & 0xFF;
                for (int j = 0; j < 4; j++) {
                    levels[128 * n + 32 * j + l] = q >> 2 * j & 3;
                }
            }
        }
    }

    /** The 32-bit word of a sub-block's 16 levels from {@code levels[first]}: slot k of half e at bit 16e + 2k. */
    static int slotWord(int[] levels, int first) {
        int word = 0;
        for (int e = 0; e < 2; e++) {
            for (int k = 0; k < 8; k++) {
                word |= levels[first + weightOfSlot(e, k)] << (16 * e + 2 * k);
            }
        }
        return word;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q2_K.quantizeActivations(src, srcOffset, count, dst);
        dst.pairLevels();
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per super-block and row: S and M as above, exactly in 32-bit lanes (|S| ≤ 16 × 15 × 6096 and |M| ≤ 16 × 15 ×
     * 2032, both below 2^22, so the integer-only conversion to float is exact), then one FMA each.
     *
     * <p>Per sub-block j: its eight slots times their pair vectors summed in 16-bit lanes; a row's two 16-bit
     * lanes summed ({@code x + (x << 16)} holds their sum in its high half, |sum| ≤ 6096, and an arithmetic shift
     * brings it down) and weighted by the row's scale j (a byte of the scale vectors, shifted and masked).
     *
     * <p>One flat loop over the 16 sub-blocks: nested as four scale vectors of four sub-blocks, C2 kept the inner
     * loop rolled with its index arithmetic and segment checks per sub-block, 4.9 against 6.5 GB/s on one thread
     * (4096 × 4096, Zen 3). Slots are extracted with 32-bit shifts and a mask of both halves' slot: C2 compiles a
     * constant int shift with an immediate count but moves a short shift's count through a general register
     * (6.5 against 6.8 GB/s). Activation pairs are loaded as ready-made vectors
     * ({@link QuantizedActivations#pairVectors()}); broadcast from {@link QuantizedActivations#pairs()} instead
     * they measured 4.6 against 4.9 GB/s.
     *
     * <p>Deliberately one method of Vector API calls only and more than 325 bytecodes ({@code FreqInlineSize},
     * checked by {@code KernelInliningTest}): helpers of our own that take or return vectors may be left calls
     * by C2 and box their vectors, and a kernel small enough to be inlined into the backend's loop beside another
     * format's exhausts C2's node budget there.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q2_K, xOffset, cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        FloatVector accMin = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xBlock + b;
            // Pair vectors of the super-block: 16 shorts each, 128 of them, 16 per 32-run (8 even, 8 odd pairs).
            int p0 = 16 * (QK / 2) * xb;
            int s16 = xb * ActivationRounding.SUMS_PER_BLOCK;
            IntVector s = IntVector.zero(IntLanes.I);
            IntVector m = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 16; j++) {
                IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (j >> 2),
                        ByteOrder.LITTLE_ENDIAN);
                int shift = 8 * (j & 3);
                IntVector q = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j, ByteOrder.LITTLE_ENDIAN);
                // Sub-block j is half j % 2 of 32-run j / 2: even pairs 4(j % 2)..+3, odd pairs 8 more.
                int p = p0 + 16 * (16 * (j >> 1) + 4 * (j & 1));
                ShortVector sum = q.and(SLOT).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, p))
                        .add(q.lanewise(VectorOperators.LSHR, 2).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16)))
                        .add(q.lanewise(VectorOperators.LSHR, 4).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32)))
                        .add(q.lanewise(VectorOperators.LSHR, 6).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48)))
                        .add(q.lanewise(VectorOperators.LSHR, 8).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 128)))
                        .add(q.lanewise(VectorOperators.LSHR, 10).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 144)))
                        .add(q.lanewise(VectorOperators.LSHR, 12).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 160)))
                        .add(q.lanewise(VectorOperators.LSHR, 14).and(SLOT).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 176)));
                IntVector halves = sum.reinterpretAsInts();
                s = s.add(halves.add(halves.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                        .mul(words.lanewise(VectorOperators.LSHR, shift).and(0x0F)));
                // The activation sums of 16 lie even-numbered first, then odd ones (ActivationRounding.q8_K).
                m = m.add(words.lanewise(VectorOperators.LSHR, shift + 4).and(0x0F)
                        .mul(sums[s16 + (j >> 1) + ((j & 1) << 3)]));
            }
            // d in the low halves, dmin in the high ones: F16 bits moved into place and scaled by 2^112, exact for
            // every finite half (subnormals included); then each times d_x, rounded once.
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector lowBits = dBits.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = lowBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(lowBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112).mul(scales[xb]);
            FloatVector dmin = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112).mul(scales[xb]);
            // |S|, |M| < 2^22: v + 1.5·2^23's bits is the float 1.5·2^23 + v (IntLanes.smallToFloat), exact.
            acc = s.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d, acc);
            accMin = m.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(dmin, accMin);
        }
        acc.sub(accMin).intoArray(out, outOffset);
    }

    @Override
    public int tokensPerCall() {
        return TOKENS;
    }

    /**
     * Tokens one {@link #dotTokens} call multiplies with each sub-block's slots: two, since each token keeps two
     * integer and two running float sums, and four tokens' would fill the 16 registers on their own.
     */
    private static final int TOKENS = 2;

    /**
     * Two tokens at a time: each sub-block's slots are extracted and its scale and min bytes picked once, then meet
     * each token's pair vectors, with {@link #dot}'s integer sums per token and its float steps in its order, so
     * every value is bit for bit {@link #dot}'s. Other counts run through {@link #dot}.
     *
     * <p>Vector API calls only and the slots written out, as in {@link #dot}.
     */
    @Override
    public void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, int tokens,
                          float[] out, int outOffset, int outStride) {
        if (tokens != TOKENS) {
            RowGroupLayout.super.dotTokens(packed, offset, x, xOffset, cols, tokens, out, outOffset, outStride);
            return;
        }
        x.requireWholeBlocks(Q2_K, xOffset, TOKENS * cols);
        short[] pairs = x.pairVectors();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int blocks = cols / QK;
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        FloatVector accMin0 = FloatVector.zero(IntLanes.F);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        FloatVector accMin1 = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb0 = xOffset / QK + b;
            int xb1 = xb0 + blocks;
            int pairs0 = 16 * (QK / 2) * xb0;
            int pairs1 = 16 * (QK / 2) * xb1;
            int s16a = xb0 * ActivationRounding.SUMS_PER_BLOCK;
            int s16b = xb1 * ActivationRounding.SUMS_PER_BLOCK;
            IntVector s0 = IntVector.zero(IntLanes.I);
            IntVector m0 = IntVector.zero(IntLanes.I);
            IntVector s1 = IntVector.zero(IntLanes.I);
            IntVector m1 = IntVector.zero(IntLanes.I);
            for (int j = 0; j < 16; j++) {
                IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (j >> 2),
                        ByteOrder.LITTLE_ENDIAN);
                int shift = 8 * (j & 3);
                IntVector q = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j, ByteOrder.LITTLE_ENDIAN);
                int p = 16 * (16 * (j >> 1) + 4 * (j & 1));
                int p0 = pairs0 + p;
                int p1 = pairs1 + p;
                ShortVector k0 = q.and(SLOT).reinterpretAsShorts();
                ShortVector sum0 = k0.mul(ShortVector.fromArray(IntLanes.S, pairs, p0));
                ShortVector sum1 = k0.mul(ShortVector.fromArray(IntLanes.S, pairs, p1));
                ShortVector k1 = q.lanewise(VectorOperators.LSHR, 2).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k1.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 16)));
                sum1 = sum1.add(k1.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 16)));
                ShortVector k2 = q.lanewise(VectorOperators.LSHR, 4).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k2.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 32)));
                sum1 = sum1.add(k2.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 32)));
                ShortVector k3 = q.lanewise(VectorOperators.LSHR, 6).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k3.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 48)));
                sum1 = sum1.add(k3.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 48)));
                ShortVector k4 = q.lanewise(VectorOperators.LSHR, 8).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k4.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 128)));
                sum1 = sum1.add(k4.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 128)));
                ShortVector k5 = q.lanewise(VectorOperators.LSHR, 10).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k5.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 144)));
                sum1 = sum1.add(k5.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 144)));
                ShortVector k6 = q.lanewise(VectorOperators.LSHR, 12).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k6.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 160)));
                sum1 = sum1.add(k6.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 160)));
                ShortVector k7 = q.lanewise(VectorOperators.LSHR, 14).and(SLOT).reinterpretAsShorts();
                sum0 = sum0.add(k7.mul(ShortVector.fromArray(IntLanes.S, pairs, p0 + 176)));
                sum1 = sum1.add(k7.mul(ShortVector.fromArray(IntLanes.S, pairs, p1 + 176)));
                IntVector scale = words.lanewise(VectorOperators.LSHR, shift).and(0x0F);
                IntVector min = words.lanewise(VectorOperators.LSHR, shift + 4).and(0x0F);
                int sumAt = (j >> 1) + ((j & 1) << 3);
                IntVector halves0 = sum0.reinterpretAsInts();
                s0 = s0.add(halves0.add(halves0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(scale));
                m0 = m0.add(min.mul(sums[s16a + sumAt]));
                IntVector halves1 = sum1.reinterpretAsInts();
                s1 = s1.add(halves1.add(halves1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(scale));
                m1 = m1.add(min.mul(sums[s16b + sumAt]));
            }
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector lowBits = dBits.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = lowBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(lowBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            FloatVector dmin = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            acc0 = s0.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d.mul(scales[xb0]), acc0);
            accMin0 = m0.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(dmin.mul(scales[xb0]), accMin0);
            acc1 = s1.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(d.mul(scales[xb1]), acc1);
            accMin1 = m1.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f).fma(dmin.mul(scales[xb1]), accMin1);
        }
        acc0.sub(accMin0).intoArray(out, outOffset);
        acc1.sub(accMin1).intoArray(out, outOffset + outStride);
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
                float d = QuantVectors.f16(packed, block + 4L * r);
                float min = QuantVectors.f16(packed, block + 4L * r + 2);
                int y = dstOffset + r * rowStride;
                for (int j = 0; j < 16; j++) {
                    int sc = QuantVectors.u8(packed, block + SCALES + 32L * (j / 4) + 4L * r + j % 4);
                    // As the format's decoders round: d·scale and dmin·min first, then dl·level − ml.
                    float dl = d * (sc & 0xF);
                    float ml = min * (sc >> 4);
                    int word = packed.get(ValueLayouts.I32, block + LEVELS + 32L * j + 4L * r);
                    for (int e = 0; e < 2; e++) {
                        for (int k = 0; k < 8; k++) {
                            int q = (word >>> (16 * e + 2 * k)) & 3;
                            dst[y + (b * QK + 16 * j + weightOfSlot(e, k)) * colStride] = dl * q - ml;
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): 32-bit lane r of a sub-block's
     * vector holds row r's sixteen levels, so one shift and mask yields a level of every row at once. Each value
     * is (d·scale)·level − dmin·min, rounded as the format's own decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            IntVector dBits = IntVector.fromMemorySegment(IntLanes.I, packed, block, ByteOrder.LITTLE_ENDIAN);
            IntVector lowBits = dBits.lanewise(VectorOperators.LSHL, 16);
            FloatVector d = lowBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(lowBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            FloatVector dmin = dBits.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dBits.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            for (int j = 0; j < 16; j++) {
                IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (j / 4),
                        ByteOrder.LITTLE_ENDIAN);
                int shift = 8 * (j % 4);
                FloatVector dl = d.mul(IntLanes.smallToFloat(words.lanewise(VectorOperators.LSHR, shift).and(0x0F)));
                FloatVector ml = dmin.mul(IntLanes.smallToFloat(words.lanewise(VectorOperators.LSHR, shift + 4).and(0x0F)));
                IntVector levels = IntVector.fromMemorySegment(IntLanes.I, packed, block + LEVELS + 32L * j,
                        ByteOrder.LITTLE_ENDIAN);
                int column = dstOffset + (b * QK + 16 * j) * colStride;
                for (int e = 0; e < 2; e++) {
                    for (int k = 0; k < 8; k++) {
                        IntVector q = levels.lanewise(VectorOperators.LSHR, 16 * e + 2 * k).and(3);
                        // weightOfSlot(e, k) written out: C2 left that call out of this loop, spilling every vector.
                        IntLanes.smallToFloat(q).mul(dl).sub(ml)
                                .intoArray(dst, column + (4 * (k & 3) + 2 * e + (k >> 2)) * colStride);
                    }
                }
            }
        }
    }
}
