package dev.isthmus.quant;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_1, Q5_0 and Q5_1 weights eight rows at a time ({@link RowGroupLayout}), their levels side by side in 16-bit
 * lanes ("slots"), so that taking one out is a mask, a shift, or both.
 *
 * <p>Why: the single-row kernels of these formats spend most of their instructions spreading nibbles and fifth
 * bits into place (about 5.5 GB/s on one thread, against 12 for Q4_0's groups). Here a 4-bit level (four slots
 * per lane) or a 5-bit one (three slots, the top bit unused) is stored whole, fifth bit included: 9.6 GB/s for
 * Q4_1, 12.0 for Q5_0 and 10.6 for Q5_1, for 0 %, 10 % and 6 % more memory than the file.
 *
 * <p>Layout. Blocks go by units of {@code slots} (4 for Q4_1, 3 for the 5-bit formats); the last unit of a row is
 * padded with zero blocks. A unit of the group starts with its F16 fields: half h = k·fields + f (block k of the
 * unit, field f: 0 the scale d, 1 the minimum m) of row r at byte 32·(h / 2) + 4r + 2·(h % 2). Then sixteen
 * 32-byte vectors: in vector j, 16-bit lane 2r + e holds, in slot k (bits k·bits and up), the level of element
 * 2j + e of row r's block k. One vector thus meets the activation pair (2j, 2j + 1) of every block of the unit:
 * pairs broadcast over all lanes ({@link QuantizedActivations#pairVectors()}).
 *
 * <p>Arithmetic, per row and block: S = Σ (level − c) × activation level with c = 16 for 5-bit levels and 0 for
 * 4-bit ones, exact in each 16-bit lane (16 products of at most 16 × 127 or 15 × 127; the lane sums Σ level ×
 * activation, which may wrap, less c × the lane's activation sum, {@link QuantizedActivations#pairVectorSums()}),
 * plus (c − the format's own level offset) × Σ activation levels; then {@code acc = fma(S, d·d_x, acc)} and, with a minimum,
 * {@code acc = fma(m, s_x, acc)} (s_x: Q8_1's F16 block sum, as llama.cpp's), block after block in order.
 * llama.cpp does not repack these formats: its single-row kernels (and {@link LegacyIntegerKernel}) sum the
 * same integers per block but add floats in another order, so the two agree to float rounding, not to the bit.
 */
final class SlotRowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final int QK = 32;
    private static final int PAIRS = QK / 2;
    private static final int LEVEL_BYTES = PAIRS * 32;
    /** A slot's mask in both 16-bit halves of a 32-bit lane: slots are shifted as 32-bit lanes, by immediates. */
    private static final int FIVE_BITS = 0x001F_001F;
    private static final int FOUR_BITS = 0x000F_000F;

    private final BlockFormat format;
    private final GgmlType type;
    private final LegacyIntegerKernel file;
    private final int bits;
    private final int slots;
    /** c: subtracted from every 5-bit level so that a lane's 16 products fit 16 bits. */
    private final int correction;
    private final int fields;
    private final int headerBytes;
    private final int unitBytes;
    /** Times the block's activation-level sum, added to S: c less the format's own level offset. */
    private final int sumOffset;

    /** The layout of {@code format}, whose blocks {@code file} describes (its fields' offsets and level offset). */
    SlotRowGroups(BlockFormat format, LegacyIntegerKernel file) {
        this.format = format;
        this.type = format.type();
        this.file = file;
        this.bits = file.fifthBitsAt() >= 0 ? 5 : 4;
        this.slots = 16 / bits;
        this.correction = bits == 5 ? 16 : 0;
        this.fields = file.minAt() >= 0 ? 2 : 1;
        this.headerBytes = 32 * ((slots * fields + 1) / 2);
        this.unitBytes = headerBytes + LEVEL_BYTES;
        this.sumOffset = correction - file.levelOffset();
    }

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        return (long) units(cols / QK) * unitBytes;
    }

    private int units(int blocks) {
        return (blocks + slots - 1) / slots;
    }

    @Override
    public boolean canPack(Tensor weight) {
        return fields == 2 ? RowGroupFit.fits(weight, type, 0, file.minAt()) : RowGroupFit.fits(weight, type, 0);
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, type, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        // Padding blocks stay zero: zero levels and scales, whatever activations they meet.
        dst.asSlice(offset, groupBytes(blocks * QK)).fill((byte) 0);
        // A unit's lanes are gathered on the heap and stored once each, rather than read back and or-ed in place
        // slot by slot (loading the 0.5 B Q5_1 model: 1.02-1.05 s before, 0.85-0.89 after).
        byte[] nibbles = new byte[QK / 2];
        int[] lanes = new int[QK];
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int first = 0; first < blocks; first += slots) {
                long unit = offset + (long) (first / slots) * unitBytes;
                Arrays.fill(lanes, 0);
                for (int k = 0; k < slots && first + k < blocks; k++) {
                    long from = row + (long) (first + k) * file.blockBytes();
                    for (int f = 0; f < fields; f++) {
                        int h = k * fields + f;
                        dst.set(ValueLayouts.I16, unit + 32L * (h / 2) + 4L * r + 2 * (h % 2),
                                src.get(ValueLayouts.I16, from + (f == 0 ? 0 : file.minAt())));
                    }
                    int qh = file.fifthBitsAt() >= 0 ? src.get(ValueLayouts.I32, from + file.fifthBitsAt()) : 0;
                    MemorySegment.copy(src, ValueLayouts.I8, from + file.nibblesAt(), nibbles, 0, nibbles.length);
                    for (int i = 0; i < QK; i++) {
                        int q = nibbles[i % 16] & 0xFF;
                        int level = (i < 16 ? q & 0x0F : q >> 4) | ((qh >>> i) & 1) << 4;
                        lanes[i] |= level << (bits * k);
                    }
                }
                for (int i = 0; i < QK; i++) {
                    dst.set(ValueLayouts.I16, unit + headerBytes + 32L * (i / 2) + 2L * (2 * r + i % 2), (short) lanes[i]);
                }
            }
        }
    }

    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        format.checkBlocks(count);
        if (fields == 2) {
            dst.quantizeQ8_1Paired(src, srcOffset, count);
        } else {
            dst.quantizeQ8_0Paired(src, srcOffset, count);
        }
        dst.broadcastPairs(count / 2);
        if (bits == 5) {
            dst.sumPairVectors(count / 2);
        }
    }

    /**
     * Two passes: the integer sums of every block (one method per slot width, no vector crossing a call), into
     * this thread's scratch, then per block the widening and the float steps. Called per unit, the sums method
     * was left out of line for Q4_1 and its per-call set-up cost a third of the time.
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        x.requireWholeBlocks(format, xOffset, cols);
        int blocks = cols / QK;
        int units = units(blocks);
        short[] partial = KernelScratch.get().shorts(16 * slots * units);
        short[] pairs = x.pairVectors();
        if (slots == 3) {
            fiveBitSums(packed, offset + headerBytes, unitBytes, units, pairs, xOffset / 2, blocks, partial);
        } else {
            fourBitSums(packed, offset + headerBytes, unitBytes, units, pairs, xOffset / 2, blocks, partial);
        }
        short[] pairSums = x.pairVectorSums();
        float[] scales = x.scales();
        int[] sums = x.sums();
        int xBlock = xOffset / QK;
        int blockSums = x.count() / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        for (int i = 0; i < blocks; i++) {
            int b = xBlock + i;
            ShortVector lanes = ShortVector.fromArray(IntLanes.S, partial, 16 * i);
            if (bits == 5) {
                lanes = lanes.sub(ShortVector.fromArray(IntLanes.S, pairSums, 16 * b).lanewise(VectorOperators.LSHL, (short) 4));
            }
            IntVector pairsOfLanes = lanes.reinterpretAsInts();
            IntVector s = pairsOfLanes.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(pairsOfLanes.lanewise(VectorOperators.ASHR, 16));
            if (sumOffset != 0) {
                s = s.add(sumOffset * sums[b]);
            }
            // The F16 fields widened as QuantVectors#f16Lanes does, its 2^112 folded into the activation factor
            // (exact: powers of two, and the factors stay below 2^128). Written out here, with Vector API calls
            // only: past C2's node budget a helper returning a vector is left a call, and the vector is boxed.
            long unit = offset + (long) (i / slots) * unitBytes;
            int h = i % slots * fields;
            IntVector dh = IntVector.fromMemorySegment(IntLanes.I, packed, unit + 32L * (h / 2), ByteOrder.LITTLE_ENDIAN)
                    .lanewise(VectorOperators.LSHL, 16 - 16 * (h % 2));
            FloatVector d = dh.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(dh.and(0x8000_0000))
                    .reinterpretAsFloats().mul(0x1p112f * scales[b]);
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(d, acc);
            if (fields == 2) {
                IntVector mh = IntVector.fromMemorySegment(IntLanes.I, packed, unit + 32L * ((h + 1) / 2),
                        ByteOrder.LITTLE_ENDIAN).lanewise(VectorOperators.LSHL, 16 - 16 * ((h + 1) % 2));
                acc = mh.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(mh.and(0x8000_0000)).reinterpretAsFloats()
                        .fma(FloatVector.broadcast(IntLanes.F, 0x1p112f * scales[blockSums + b]), acc);
            }
        }
        acc.intoArray(out, outOffset);
    }

    /**
     * Units of three 5-bit slots: per block, lane-wise Σ_j (its slot of vector j) × (its activation pair j), into
     * {@code partial[16·block..]}, wrapping: a lane's true sum may reach 16 × 31 × 127, and {@link #dot} subtracts
     * 16 × the lane's activation sum, after which it is exact. Slots are taken out by shifts of 32-bit lanes and
     * masks of both halves: C2 compiles 16-bit lane shifts with the count moved into a register every time, and
     * sign-extending slots took two shifts each (about a third slower).
     *
     * <p>A padding slot of the last unit reads the last real block's activations: its zero levels make whatever it
     * reads count zero, and the index stays inside the activations. Its sums land past the real blocks' and are
     * never read.
     */
    private static void fiveBitSums(MemorySegment packed, long levels, int unitBytes, int units, short[] pairs,
                                    int pair0, int blocks, short[] partial) {
        for (int u = 0; u < units; u++) {
            long unit = levels + (long) u * unitBytes;
            int at0 = 16 * (pair0 + PAIRS * 3 * u);
            int at1 = 16 * (pair0 + PAIRS * Math.min(3 * u + 1, blocks - 1));
            int at2 = 16 * (pair0 + PAIRS * Math.min(3 * u + 2, blocks - 1));
            ShortVector s0 = ShortVector.zero(IntLanes.S);
            ShortVector s1 = ShortVector.zero(IntLanes.S);
            ShortVector s2 = ShortVector.zero(IntLanes.S);
            for (int j = 0; j < PAIRS; j++) {
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, unit + 32L * j, ByteOrder.LITTLE_ENDIAN);
                s0 = s0.add(v.and(FIVE_BITS).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, at0 + 16 * j)));
                s1 = s1.add(v.lanewise(VectorOperators.LSHR, 5).and(FIVE_BITS).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, at1 + 16 * j)));
                s2 = s2.add(v.lanewise(VectorOperators.LSHR, 10).and(FIVE_BITS).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, at2 + 16 * j)));
            }
            s0.intoArray(partial, 48 * u);
            s1.intoArray(partial, 48 * u + 16);
            s2.intoArray(partial, 48 * u + 32);
        }
    }

    /** As {@link #fiveBitSums} for units of four 4-bit slots (bits 4k..4k+3), whose lane sums cannot overflow. */
    private static void fourBitSums(MemorySegment packed, long levels, int unitBytes, int units, short[] pairs,
                                    int pair0, int blocks, short[] partial) {
        for (int u = 0; u < units; u++) {
            long unit = levels + (long) u * unitBytes;
            int at0 = 16 * (pair0 + PAIRS * 4 * u);
            int at1 = 16 * (pair0 + PAIRS * Math.min(4 * u + 1, blocks - 1));
            int at2 = 16 * (pair0 + PAIRS * Math.min(4 * u + 2, blocks - 1));
            int at3 = 16 * (pair0 + PAIRS * Math.min(4 * u + 3, blocks - 1));
            ShortVector s0 = ShortVector.zero(IntLanes.S);
            ShortVector s1 = ShortVector.zero(IntLanes.S);
            ShortVector s2 = ShortVector.zero(IntLanes.S);
            ShortVector s3 = ShortVector.zero(IntLanes.S);
            for (int j = 0; j < PAIRS; j++) {
                IntVector v = IntVector.fromMemorySegment(IntLanes.I, packed, unit + 32L * j, ByteOrder.LITTLE_ENDIAN);
                s0 = s0.add(v.and(FOUR_BITS).reinterpretAsShorts().mul(ShortVector.fromArray(IntLanes.S, pairs, at0 + 16 * j)));
                s1 = s1.add(v.lanewise(VectorOperators.LSHR, 4).and(FOUR_BITS).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, at1 + 16 * j)));
                s2 = s2.add(v.lanewise(VectorOperators.LSHR, 8).and(FOUR_BITS).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, at2 + 16 * j)));
                s3 = s3.add(v.lanewise(VectorOperators.LSHR, 12).and(FOUR_BITS).reinterpretAsShorts()
                        .mul(ShortVector.fromArray(IntLanes.S, pairs, at3 + 16 * j)));
            }
            s0.intoArray(partial, 64 * u);
            s1.intoArray(partial, 64 * u + 16);
            s2.intoArray(partial, 64 * u + 32);
            s3.intoArray(partial, 64 * u + 48);
        }
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        int blocks = cols / QK;
        float[] rowValues = new float[ROWS];
        for (int b = 0; b < blocks; b++) {
            long unit = offset + (long) (b / slots) * unitBytes;
            int k = b % slots;
            int h = k * fields;
            FloatVector d = QuantVectors.f16Lanes(packed, unit + 32L * (h / 2), h % 2);
            FloatVector m = fields == 2 ? QuantVectors.f16Lanes(packed, unit + 32L * ((h + 1) / 2), (h + 1) % 2) : null;
            for (int j = 0; j < PAIRS; j++) {
                IntVector lanes = IntVector.fromMemorySegment(IntLanes.I, packed, unit + headerBytes + 32L * j,
                        ByteOrder.LITTLE_ENDIAN);
                for (int e = 0; e < 2; e++) {
                    // 32-bit lane r: row r's level of element 2j + e in slot k of its low (e = 0) or high (e = 1) half.
                    IntVector level = lanes.lanewise(VectorOperators.LSHR, 16 * e + bits * k).and((1 << bits) - 1)
                            .sub(file.levelOffset());
                    FloatVector value = IntLanes.toFloat(level).mul(d);
                    if (m != null) {
                        value = value.add(m);
                    }
                    int column = b * QK + 2 * j + e;
                    if (rowStride == 1) {
                        value.intoArray(dst, dstOffset + column * colStride);
                    } else {
                        value.intoArray(rowValues, 0);
                        for (int r = 0; r < ROWS; r++) {
                            dst[dstOffset + r * rowStride + column * colStride] = rowValues[r];
                        }
                    }
                }
            }
        }
    }
}
