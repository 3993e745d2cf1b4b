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
 * Q4_0 weights eight rows at a time ({@link RowGroupLayout}), laid out so that the kernel needs no lane
 * conversions: only full 256-bit loads, lane-wise integer arithmetic and reinterpretations.
 *
 * <p>Blocks come in pairs (2k, 2k + 1). A pair starts with 32 bytes of scales — 32-bit lane r holds row r's F16
 * scale of block 2k in its low half and of block 2k + 1 in its high half (zero when the row has an odd block
 * count and this is the last) — followed by each block's 128 bytes of levels in four 32-byte strips. In strip q,
 * 16-bit lane 2r + e holds byte 4q + e of row r's block in its low byte and byte 4q + 2 + e in its high byte; its
 * four nibbles are weights 4q + e, 4q + e + 16, 4q + e + 2 and 4q + e + 18. Each nibble vector multiplies one
 * broadcast pair of activation levels, and every row's products pile up lane-wise.
 *
 * <p>Why no conversions: {@code convertShape} is compiled from profiles shared by every caller in the process,
 * and once other kernels (Q6_K, the single-row ones) convert other shapes, this kernel measured a third slower.
 *
 * <p>The arithmetic is llama.cpp's repacked Q4_0 kernel ({@code ggml_gemv_q4_0_8x8_q8_0}): per row and block an
 * exact integer sum S of (level − 8) × activation level, then {@code acc = fma(S, d_w × d_x, acc)} block after
 * block — one running sum per row and no lane reduction, so the results are bit for bit llama.cpp's.
 */
final class Q4_0RowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 32;
    private static final int SCALE_BYTES = 32;
    private static final int LEVEL_BYTES = 128;
    private static final int PAIR_BYTES = SCALE_BYTES + 2 * LEVEL_BYTES;
    private static final ShortVector LOW_NIBBLE = ShortVector.broadcast(IntLanes.S, (short) 0x0F);
    private static final float TWO_POW_112 = 0x1p112f;

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        int blocks = cols / QK;
        return (long) (blocks / 2) * PAIR_BYTES + (blocks % 2) * (SCALE_BYTES + LEVEL_BYTES);
    }

    @Override
    public boolean canPack(Tensor weight) {
        if (weight.type() != GgmlType.Q4_0 || weight.rank() != 2 || weight.dim(0) % ROWS != 0
                || weight.dim(1) % QK != 0 || !IntLanes.AVAILABLE) {
            return false;
        }
        // The kernel widens scales with integer arithmetic that holds for finite values only.
        MemorySegment data = weight.segment();
        long blocks = weight.dim(1) / QK;
        for (long r = 0; r < weight.dim(0); r++) {
            long row = weight.rowOffset(r);
            for (long b = 0; b < blocks; b++) {
                if ((data.get(ValueLayouts.I16, row + b * Q4_0Format.BLOCK_BYTES) & 0x7C00) == 0x7C00) {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        if (weight.type() != GgmlType.Q4_0 || weight.rank() != 2 || weight.dim(1) % QK != 0 || firstRow < 0
                || firstRow + ROWS > weight.dim(0)) {
            throw new IllegalArgumentException("cannot pack rows " + firstRow + ".." + (firstRow + ROWS - 1) + " of "
                    + weight + " as Q4_0 row groups");
        }
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * Q4_0Format.BLOCK_BYTES;
                long pair = offset + (long) (b / 2) * PAIR_BYTES;
                dst.set(ValueLayouts.I16, pair + 4L * r + 2 * (b % 2), src.get(ValueLayouts.I16, from));
                if (b % 2 == 0 && b + 1 == blocks) {
                    dst.set(ValueLayouts.I16, pair + 4L * r + 2, (short) 0);
                }
                long levels = levels(pair, b);
                for (int q = 0; q < 4; q++) {
                    for (int e = 0; e < 2; e++) {
                        long lane = levels + 32L * q + 2L * (2 * r + e);
                        dst.set(ValueLayouts.I8, lane, src.get(ValueLayouts.I8, from + 2 + 4 * q + e));
                        dst.set(ValueLayouts.I8, lane + 1, src.get(ValueLayouts.I8, from + 2 + 4 * q + 2 + e));
                    }
                }
            }
        }
    }

    /** Where block {@code b}'s levels start, in the pair at byte {@code pair}. */
    private static long levels(long pair, int b) {
        return pair + SCALE_BYTES + (long) (b % 2) * LEVEL_BYTES;
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        dst.quantizeQ8_0Paired(src, srcOffset, count);
    }

    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q4_0, xOffset, cols);
        int[] pairs = x.pairs();
        int[] sums = x.sums();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        int pair0 = xOffset / 2;
        for (int b = 0; b < cols / QK; b++) {
            long pair = offset + (long) (b / 2) * PAIR_BYTES;
            // Block 2k's scales sit in the low halves: shifted up, both blocks read them from the high halves.
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, pair, ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (b % 2));
            FloatVector d = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112 * scales[xBlock + b]);
            IntVector s = levelSums(packed, levels(pair, b), pairs, pair0 + b * QK / 2).sub(8 * sums[xBlock + b]);
            acc = IntLanes.toFloat(s).fma(d, acc);
        }
        acc.intoArray(out, outOffset);
    }

    /** Σ level × activation per row of one block column (levels 0..15; the caller takes off 8 × Σ activation). */
    private static IntVector levelSums(MemorySegment packed, long strips, int[] pairs, int pair) {
        // Each 16-bit lane gathers 16 products of at most 15 × 127: below 2^15.
        ShortVector acc = ShortVector.zero(IntLanes.S);
        for (int q = 0; q < 4; q++) {
            ShortVector v = ShortVector.fromMemorySegment(IntLanes.S, packed, strips + 32L * q, ByteOrder.LITTLE_ENDIAN);
            int i = pair + 2 * q;
            acc = acc.add(v.and(LOW_NIBBLE).mul(broadcast(pairs, i)))
                    .add(v.lanewise(VectorOperators.LSHR, (short) 4).and(LOW_NIBBLE).mul(broadcast(pairs, i + 8)))
                    .add(v.lanewise(VectorOperators.LSHR, (short) 8).and(LOW_NIBBLE).mul(broadcast(pairs, i + 1)))
                    .add(v.lanewise(VectorOperators.LSHR, (short) 12).mul(broadcast(pairs, i + 9)));
        }
        return IntLanes.addHalves(acc.reinterpretAsInts());
    }

    /**
     * Activation pair {@code pair} over all sixteen lanes. Loading ready-made vectors
     * ({@link QuantizedActivations#pairVectors()}) measured 25% faster alone, but once the Q6_K group kernel ran
     * in the same process (every Q4_0 file's output matrix is Q6_K) this kernel fell to a third of its speed; a
     * broadcast from the scalar is unaffected.
     */
    private static ShortVector broadcast(int[] pairs, int pair) {
        return IntVector.broadcast(IntLanes.I, pairs[pair]).reinterpretAsShorts();
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride);
            return;
        }
        for (int b = 0; b < cols / QK; b++) {
            long pair = offset + (long) (b / 2) * PAIR_BYTES;
            for (int r = 0; r < ROWS; r++) {
                float d = QuantVectors.f16(packed, pair + 4L * r + 2 * (b % 2));
                for (int q = 0; q < 4; q++) {
                    for (int e = 0; e < 2; e++) {
                        long lane = levels(pair, b) + 32L * q + 2L * (2 * r + e);
                        for (int half = 0; half < 2; half++) {
                            int v = QuantVectors.u8(packed, lane + half);
                            int c = b * QK + 4 * q + 2 * half + e;
                            dst[dstOffset + r * rowStride + c * colStride] = ((v & 0x0F) - 8) * d;
                            dst[dstOffset + r * rowStride + (c + 16) * colStride] = ((v >> 4) - 8) * d;
                        }
                    }
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side: 32-bit lane r of a strip holds row r's two 16-bit lanes, so
     * shifting by 16e + 4n and masking yields nibble n of lane 2r + e for all rows at once.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long pair = offset + (long) (b / 2) * PAIR_BYTES;
            IntVector halves = IntVector.fromMemorySegment(IntLanes.I, packed, pair, ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (b % 2));
            FloatVector d = halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                    .reinterpretAsFloats().mul(TWO_POW_112);
            for (int q = 0; q < 4; q++) {
                IntVector strip = IntVector.fromMemorySegment(IntLanes.I, packed, levels(pair, b) + 32L * q,
                        ByteOrder.LITTLE_ENDIAN);
                int column = dstOffset + (b * QK + 4 * q) * colStride;
                for (int e = 0; e < 2; e++) {
                    for (int n = 0; n < 4; n++) {
                        IntVector level = strip.lanewise(VectorOperators.LSHR, 16 * e + 4 * n).and(0x0F).sub(8);
                        IntLanes.toFloat(level).mul(d).intoArray(dst, column + (e + NIBBLE_COLUMN[n]) * colStride);
                    }
                }
            }
        }
    }

    /** Column of nibble n (low to high) of a 16-bit strip lane, relative to 4q + e. */
    private static final int[] NIBBLE_COLUMN = {0, 16, 2, 18};

    private static final Q4_0Format Q4_0 = new Q4_0Format();
}
