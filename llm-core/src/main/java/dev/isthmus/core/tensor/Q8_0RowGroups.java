package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q8_0 weights eight rows at a time ({@link RowGroupLayout}).
 *
 * <p>Layout of a group: blocks come in pairs (2k, 2k + 1). A pair starts with 32 bytes of scales — 32-bit lane
 * r holds row r's F16 scale of block 2k in its low half and of block 2k + 1 in its high half (zero when the rows
 * have an odd block count and this is the last) — followed by each block's 256 bytes of levels in eight 32-byte
 * strips. Strip j holds elements 4j .. 4j + 3 of the eight rows: in 32-bit lane r, 16-bit lane 2r has element
 * 4j in its low and 4j + 2 in its high byte, lane 2r + 1 elements 4j + 1 and 4j + 3; every level is stored plus
 * 128, as an unsigned byte. A group of {@code cols} columns takes 8 × 34 × cols / 32 bytes, as the rows do in
 * the file, plus 16 bytes when the block count is odd.
 *
 * <p>Arithmetic: that of the single-row kernel ({@link Q8_0Format#dotQuantized}, llama.cpp's AVX2
 * {@code ggml_vec_dot_q8_0_q8_0}), row by row, so the results are bit for bit its results. That kernel keeps
 * eight float lanes per row; lane j takes, block after block, {@code fma(S_j, d_w × d_x, lane)} with S_j the
 * exact integer sum of level × activation level over elements 4j .. 4j + 3, and the eight lanes are added at
 * the end in {@link IntLanes#sumLanes}'s order. Here accumulator j holds lane j of all eight rows (lane r for
 * row r): strip j of a block yields exactly the eight rows' S_j, and {@code d_w} is widened from the F16 pair
 * exactly by integer operations before the one rounded multiply by {@code d_x} the single-row kernel does.
 *
 * <p>Overflow: a weight level lies in [−128, 127] (a file may hold −128, the quantizer writes [−127, 127]), an
 * activation level in [−127, 127], so a 16-bit lane summing two products holds at most 2 × 128 × 127 = 32512 in
 * magnitude — below 2^15. The 32-bit sum of a lane's two halves is at most 65024 in magnitude, below 2^24, so
 * its conversion to float is exact. (A lane conversion measured 2.5 GB/s faster here than
 * {@link IntLanes#smallToFloat}'s two integer operations, written out: 20.5 against 18.2 GB/s in cache.)
 *
 * <p>Speed, one thread, 4096 × 4096, alternating with the single-row kernel in one run: 15.6 to 19.3 GB/s
 * against 13.1 to 14.2; no allocation per call once compiled.
 *
 * <p>Only weights whose F16 scales are finite are packed (the widening by shifts and a multiply by 2^112 covers
 * zeros, subnormals and normals), and only where 256-bit vectors run natively.
 */
final class Q8_0RowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 32;
    private static final int FILE_BLOCK_BYTES = 34;
    private static final int SCALE_BYTES = 32;
    private static final int LEVEL_BYTES = 256;
    private static final int PAIR_BYTES = SCALE_BYTES + 2 * LEVEL_BYTES;
    /** The low byte of each 16-bit half of a 32-bit lane. */
    private static final int LOW_BYTES = 0x00FF_00FF;
    private static final Q8_0Format Q8_0 = new Q8_0Format();

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        int blocks = cols / QK;
        return (long) (blocks / 2) * PAIR_BYTES + (blocks % 2) * (SCALE_BYTES + LEVEL_BYTES);
    }

    /** Whether {@code weight} is a 2-D Q8_0 matrix of whole groups and blocks with finite scales, here with 256-bit vectors. */
    @Override
    public boolean canPack(Tensor weight) {
        if (weight.type() != GgmlType.Q8_0 || weight.rank() != 2 || weight.dim(0) % ROWS != 0
                || weight.dim(1) % QK != 0 || weight.dim(1) > Integer.MAX_VALUE || !IntLanes.AVAILABLE) {
            return false;
        }
        MemorySegment data = weight.segment();
        long blocks = weight.dim(1) / QK;
        for (long r = 0; r < weight.dim(0); r++) {
            long row = weight.rowOffset(r);
            for (long b = 0; b < blocks; b++) {
                if ((data.get(ValueLayouts.I16, row + b * FILE_BLOCK_BYTES) & 0x7C00) == 0x7C00) {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        if (weight.type() != GgmlType.Q8_0 || weight.rank() != 2 || weight.dim(1) % QK != 0 || firstRow < 0
                || firstRow % ROWS != 0 || firstRow + ROWS > weight.dim(0)) {
            throw new IllegalArgumentException("cannot pack rows " + firstRow + ".." + (firstRow + ROWS - 1) + " of "
                    + weight + " in Q8_0 groups of " + ROWS + " rows (whole groups, whole blocks of " + QK + ")");
        }
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long from = row + (long) b * FILE_BLOCK_BYTES;
                long pair = pair(offset, b);
                dst.set(ValueLayouts.I16, scale(pair, r, b), src.get(ValueLayouts.I16, from));
                if (b % 2 == 0 && b + 1 == blocks) {
                    dst.set(ValueLayouts.I16, scale(pair, r, b + 1), (short) 0);
                }
                // Four levels at a time (elements 4k..4k+3 go to one strip's row r, as bytes 0, 2, 1, 3 of its word),
                // each stored + 128.
                for (int e = 0; e < QK; e += 4) {
                    int four = src.get(ValueLayouts.I32, from + 2 + e) ^ 0x8080_8080;
                    int swapped = four & 0xFF00_00FF | (four & 0x0000_FF00) << 8 | (four & 0x00FF_0000) >>> 8;
                    dst.set(ValueLayouts.I32, level(pair, r, b, e), swapped);
                }
            }
        }
    }

    /** Where the pair holding block {@code b} starts, in the group at byte {@code group}. */
    private static long pair(long group, int b) {
        return group + (long) (b / 2) * PAIR_BYTES;
    }

    /** Where block {@code b}'s strips start, in the pair at byte {@code pair}. */
    private static long strips(long pair, int b) {
        return pair + SCALE_BYTES + (long) (b % 2) * LEVEL_BYTES;
    }

    /** Row r's F16 scale of block {@code b}, in the pair at byte {@code pair}. */
    private static long scale(long pair, int r, int b) {
        return pair + 4L * r + 2 * (b % 2);
    }

    /** Row r's level of element {@code e} of block {@code b} (plus 128, unsigned), in the pair at {@code pair}. */
    private static long level(long pair, int r, int b, int e) {
        int k = e % 4;
        return strips(pair, b) + 32L * (e / 4) + 4L * r + 2 * (k % 2) + k / 2;
    }

    /** Q8_0 activations ({@link QuantizedActivations#quantizeQ8_0Paired}) with their pairs broadcast as vectors. */
    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        Q8_0.checkBlocks(count);
        dst.quantizeQ8_0Paired(src, srcOffset, count);
        dst.broadcastPairs(count / 2);
    }

    /**
     * Per block: the scales widened and multiplied by the activation scale, then strip j's low and high bytes
     * (less 128) times the broadcast activation pairs (4j, 4j + 1) and (4j + 2, 4j + 3); the two 16-bit halves
     * of each 32-bit lane added are S_j of row r, which goes into accumulator j by one fused multiply-add.
     *
     * <p>Written as one method of Vector API calls, strips written out (C2 keeps short loops over such bodies
     * rolled), above C2's {@code FreqInlineSize} (see {@code KernelInliningTest}): a helper of our own returning
     * a vector is left a call past C2's node budget, and its vectors boxed.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(Q8_0, xOffset, cols);
        short[] pairs = x.pairVectors();
        float[] scales = x.scales();
        int xBlock = xOffset / QK;
        int p0 = 16 * (xOffset / 2);
        FloatVector a0 = FloatVector.zero(IntLanes.F);
        FloatVector a1 = FloatVector.zero(IntLanes.F);
        FloatVector a2 = FloatVector.zero(IntLanes.F);
        FloatVector a3 = FloatVector.zero(IntLanes.F);
        FloatVector a4 = FloatVector.zero(IntLanes.F);
        FloatVector a5 = FloatVector.zero(IntLanes.F);
        FloatVector a6 = FloatVector.zero(IntLanes.F);
        FloatVector a7 = FloatVector.zero(IntLanes.F);
        for (int b = 0; b < cols / QK; b++) {
            long pair = offset + (long) (b / 2) * PAIR_BYTES;
            long strips = pair + SCALE_BYTES + (long) (b % 2) * LEVEL_BYTES;
            int p = p0 + 256 * b;
            IntVector dh = IntVector.fromMemorySegment(IntLanes.I, packed, pair, ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (b % 2));
            FloatVector d = dh.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dh.and(0x8000_0000))
                    .reinterpretAsFloats().mul(0x1p112f).mul(scales[xBlock + b]);
            IntVector v0 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 0L, ByteOrder.LITTLE_ENDIAN);
            IntVector t0 = v0.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 0))
                    .add(v0.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 16)))
                    .reinterpretAsInts();
            a0 = t0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t0.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a0);
            IntVector v1 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 32L, ByteOrder.LITTLE_ENDIAN);
            IntVector t1 = v1.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 32))
                    .add(v1.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 48)))
                    .reinterpretAsInts();
            a1 = t1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t1.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a1);
            IntVector v2 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector t2 = v2.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 64))
                    .add(v2.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 80)))
                    .reinterpretAsInts();
            a2 = t2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t2.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a2);
            IntVector v3 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 96L, ByteOrder.LITTLE_ENDIAN);
            IntVector t3 = v3.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 96))
                    .add(v3.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 112)))
                    .reinterpretAsInts();
            a3 = t3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t3.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a3);
            IntVector v4 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 128L, ByteOrder.LITTLE_ENDIAN);
            IntVector t4 = v4.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 128))
                    .add(v4.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 144)))
                    .reinterpretAsInts();
            a4 = t4.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t4.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a4);
            IntVector v5 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 160L, ByteOrder.LITTLE_ENDIAN);
            IntVector t5 = v5.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 160))
                    .add(v5.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 176)))
                    .reinterpretAsInts();
            a5 = t5.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t5.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a5);
            IntVector v6 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 192L, ByteOrder.LITTLE_ENDIAN);
            IntVector t6 = v6.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 192))
                    .add(v6.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 208)))
                    .reinterpretAsInts();
            a6 = t6.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t6.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a6);
            IntVector v7 = IntVector.fromMemorySegment(IntLanes.I, packed, strips + 224L, ByteOrder.LITTLE_ENDIAN);
            IntVector t7 = v7.and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                    .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 224))
                    .add(v7.lanewise(VectorOperators.LSHR, 8).and(LOW_BYTES).reinterpretAsShorts().sub((short) 128)
                            .mul(ShortVector.fromArray(IntLanes.S, pairs, p + 240)))
                    .reinterpretAsInts();
            a7 = t7.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(t7.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0)
                    .reinterpretAsFloats().fma(d, a7);
        }
        // Per row: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), as IntLanes.sumLanes adds one row's lanes.
        a0.add(a4).add(a2.add(a6)).add(a1.add(a5).add(a3.add(a7))).intoArray(out, outOffset);
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            dequantizeColumns(packed, offset, cols, dst, dstOffset, colStride);
            return;
        }
        for (int b = 0; b < cols / QK; b++) {
            long pair = pair(offset, b);
            for (int r = 0; r < ROWS; r++) {
                float d = Half.f16ToFloat(packed.get(ValueLayouts.I16, scale(pair, r, b)));
                for (int e = 0; e < QK; e++) {
                    int q = (packed.get(ValueLayouts.I8, level(pair, r, b, e)) & 0xFF) - 128;
                    dst[dstOffset + r * rowStride + (b * QK + e) * colStride] = d * q;
                }
            }
        }
    }

    /**
     * The eight rows of each column side by side (prefill's panels): byte {@code 2 * (k % 2) + k / 2} of 32-bit
     * lane r of strip j is row r's element 4j + k.
     */
    private static void dequantizeColumns(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset,
                                          int colStride) {
        for (int b = 0; b < cols / QK; b++) {
            long pair = pair(offset, b);
            IntVector dh = IntVector.fromMemorySegment(IntLanes.I, packed, pair, ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (b % 2));
            FloatVector d = dh.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dh.and(0x8000_0000))
                    .reinterpretAsFloats().mul(0x1p112f);
            for (int j = 0; j < 8; j++) {
                IntVector strip = IntVector.fromMemorySegment(IntLanes.I, packed, strips(pair, b) + 32L * j,
                        ByteOrder.LITTLE_ENDIAN);
                for (int k = 0; k < 4; k++) {
                    IntVector q = strip.lanewise(VectorOperators.LSHR, 8 * (2 * (k % 2) + k / 2)).and(0xFF).sub(128);
                    IntLanes.smallToFloat(q).mul(d).intoArray(dst, dstOffset + (b * QK + 4 * j + k) * colStride);
                }
            }
        }
    }
}
