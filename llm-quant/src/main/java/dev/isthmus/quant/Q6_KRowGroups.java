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
 *   <li>2 × 768 bytes, one per 128-element half n: for each single-row lane i eight rows' 32-bit words
 *       (a, c, h): bytes 4i..4i+3 of the row's {@code ql[64n..]}, of {@code ql[64n+32..]} and of
 *       {@code qh[32n..]}. Word a holds elements 4i..4i+3 of runs 0 (low nibbles) and 2 (high nibbles) of the
 *       half, c those of runs 1 and 3, h their high bit pairs (run k in bits 2k, 2k+1 of each byte).
 * </ul>
 * In a run's level vector 16-bit lane 2r + e then holds elements 4i + 2e (low byte) and 4i + 2e + 1 (high
 * byte) of row r: the low bytes multiply the broadcast activation pair (4i, 4i+2) and the high bytes the pair
 * (4i+1, 4i+3) (Q8_K's even/odd order, {@link QuantizedActivations#pairLevels}, as vectors from
 * {@link QuantizedActivations#broadcastPairs}), and a row's two 16-bit lanes
 * summed give exactly the single-row kernel's lane-i sum of the run.
 */
final class Q6_KRowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 256;
    private static final int SCALES = 32;
    private static final int LEVELS = SCALES + 128;
    private static final int HALF = 768;
    private static final int BLOCK_BYTES = LEVELS + 2 * HALF;
    private static final int LOW_NIBBLES = 0x0F0F_0F0F;
    private static final int HIGH_PAIRS = 0x3030_3030;
    /** The low byte of each 16-bit half. */
    private static final int LOW_BYTES = 0x00FF_00FF;
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
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q6_KFormat.BLOCK_BYTES;
                long to = offset + (long) b * BLOCK_BYTES;
                dst.set(ValueLayouts.F32, to + 4L * r, Half.f16ToFloat(src.get(ValueLayouts.I16, from + 208)));
                for (int v = 0; v < 4; v++) {
                    dst.set(ValueLayouts.I32, to + SCALES + 32L * v + 4L * r, src.get(ValueLayouts.I32, from + 192 + 4 * v));
                }
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < 8; i++) {
                        long words = to + LEVELS + (long) HALF * n + 96L * i + 4L * r;
                        dst.set(ValueLayouts.I32, words, src.get(ValueLayouts.I32, from + 64 * n + 4 * i));
                        dst.set(ValueLayouts.I32, words + 32, src.get(ValueLayouts.I32, from + 64 * n + 32 + 4 * i));
                        dst.set(ValueLayouts.I32, words + 64, src.get(ValueLayouts.I32, from + 128 + 32 * n + 4 * i));
                    }
                }
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
     * from {@link QuantizedActivations#pairs()} instead the kernel measured 5.5 against 8.3 GB/s on one thread.
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
                // Bit fields are moved by shifts of 32-bit lanes: C2 compiles 16-bit lane shifts with the count moved
                // into a register each time. The masks keep every field inside its own byte, so no bit crosses
                // from one 16-bit half into the other.
                IntVector a = IntVector.fromMemorySegment(IntLanes.I, packed, words, ByteOrder.LITTLE_ENDIAN);
                IntVector c = IntVector.fromMemorySegment(IntLanes.I, packed, words + 32, ByteOrder.LITTLE_ENDIAN);
                IntVector h = IntVector.fromMemorySegment(IntLanes.I, packed, words + 64, ByteOrder.LITTLE_ENDIAN);
                int p = pair + i;
                IntVector q0 = a.and(LOW_NIBBLES).or(h.lanewise(VectorOperators.LSHL, 4).and(HIGH_PAIRS));
                IntVector q1 = c.and(LOW_NIBBLES).or(h.lanewise(VectorOperators.LSHL, 2).and(HIGH_PAIRS));
                IntVector q2 = a.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES).or(h.and(HIGH_PAIRS));
                IntVector q3 = c.lanewise(VectorOperators.LSHR, 4).and(LOW_NIBBLES)
                        .or(h.lanewise(VectorOperators.LSHR, 2).and(HIGH_PAIRS));
                IntVector r0 = q0.and(LOW_BYTES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * p))
                        .add(q0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 8))))
                        .reinterpretAsInts();
                IntVector r1 = q1.and(LOW_BYTES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 16)))
                        .add(q1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 24))))
                        .reinterpretAsInts();
                IntVector r2 = q2.and(LOW_BYTES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 32)))
                        .add(q2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
                                .mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 40))))
                        .reinterpretAsInts();
                IntVector r3 = q3.and(LOW_BYTES).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, 16 * (p + 48)))
                        .add(q3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts()
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
                    long levels = block + LEVELS + (long) HALF * n + 4L * r;
                    for (int l = 0; l < 32; l++) {
                        long words = levels + 96L * (l / 4) + l % 4;
                        int a = QuantVectors.u8(packed, words);
                        int c = QuantVectors.u8(packed, words + 32);
                        int h = QuantVectors.u8(packed, words + 64);
                        int is = 8 * n + l / 16;
                        int column = b * QK + 128 * n + l;
                        dst[y + column * colStride] = d * scale(packed, block, r, is) * (((a & 0xF) | ((h & 3) << 4)) - 32);
                        dst[y + (column + 32) * colStride] = d * scale(packed, block, r, is + 2)
                                * (((c & 0xF) | (((h >> 2) & 3) << 4)) - 32);
                        dst[y + (column + 64) * colStride] = d * scale(packed, block, r, is + 4)
                                * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
                        dst[y + (column + 96) * colStride] = d * scale(packed, block, r, is + 6)
                                * (((c >> 4) | (((h >> 6) & 3) << 4)) - 32);
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's column-major panels): 32-bit lane r of a level word
     * holds four of row r's bytes, so shifts and masks yield a level of every row at once. Each value is
     * (d·scale)·(level − 32), rounded as the format's own decoders round it.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        // Each sub-block's dj reaches subBlockColumns (too big to inline) through an array: a vector passed to a
        // call is boxed, two allocations per 128 values.
        float[] dj = new float[ROWS];
        for (int b = 0; b < cols / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.fromMemorySegment(IntLanes.F, packed, block, ByteOrder.LITTLE_ENDIAN);
            for (int j = 0; j < 16; j++) {
                IntVector words = IntVector.fromMemorySegment(IntLanes.I, packed, block + SCALES + 32L * (j / 4),
                        ByteOrder.LITTLE_ENDIAN);
                d.mul(IntLanes.toFloat(words.lanewise(VectorOperators.LSHL, 24 - 8 * (j % 4))
                        .lanewise(VectorOperators.ASHR, 24))).intoArray(dj, 0);
                // Sub-block j: half j / 8, run (j % 8) / 2, elements 16·(j % 2) .. +16 of the run.
                int n = j / 8;
                int k = (j % 8) / 2;
                subBlockColumns(packed, block, n, k, 4 * (j % 2), dj, dst,
                        dstOffset + (b * QK + 128 * n + 32 * k) * colStride, colStride);
            }
        }
    }

    /** Lanes i0..i0+3 (elements 4·i0 .. 4·i0 + 15) of run k of half n: dj·(level − 32), eight rows per column. */
    private static void subBlockColumns(MemorySegment packed, long block, int n, int k, int i0, float[] factors,
                                        float[] dst, int run, int colStride) {
        FloatVector dj = FloatVector.fromArray(IntLanes.F, factors, 0);
        int nibble = 4 * (k >> 1);
        for (int i = i0; i < i0 + 4; i++) {
            long words = block + LEVELS + (long) HALF * n + 96L * i;
            IntVector low = IntVector.fromMemorySegment(IntLanes.I, packed, words + 32L * (k & 1), ByteOrder.LITTLE_ENDIAN);
            IntVector high = IntVector.fromMemorySegment(IntLanes.I, packed, words + 64, ByteOrder.LITTLE_ENDIAN);
            for (int e = 0; e < 4; e++) {
                IntVector level = low.lanewise(VectorOperators.LSHR, 8 * e + nibble).and(0x0F)
                        .or(high.lanewise(VectorOperators.LSHR, 8 * e + 2 * k).and(3).lanewise(VectorOperators.LSHL, 4));
                IntLanes.toFloat(level.sub(32)).mul(dj).intoArray(dst, run + (4 * i + e) * colStride);
            }
        }
    }

    /** Row r's signed scale of sub-block j. */
    private static byte scale(MemorySegment packed, long block, int r, int j) {
        return packed.get(ValueLayouts.I8, block + SCALES + 32L * (j / 4) + 4L * r + j % 4);
    }
}
