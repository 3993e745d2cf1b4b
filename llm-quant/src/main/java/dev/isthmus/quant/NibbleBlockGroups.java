package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * The row-group layout shared by the formats whose 32-weight blocks are an F16 scale and 16 bytes of nibbles
 * (Q4_0, IQ4_NL), eight rows per group. Blocks come in pairs (2k, 2k + 1). A pair starts with 32 bytes of
 * scales — 32-bit lane r holds row r's F16 scale of block 2k in its low half and of block 2k + 1 in its high
 * half (zero when the row has an odd block count and this is the last) — followed by each block's 128 bytes of
 * nibbles. Q4_0 ({@link #pack}) lays those out in four 32-byte strips: in strip q, 16-bit lane 2r + e holds byte
 * 4q + e of row r's block in its low byte and byte 4q + 2 + e in its high byte; its four nibbles are weights
 * 4q + e, 4q + e + 16, 4q + e + 2 and 4q + e + 18. IQ4_NL takes the scales ({@link #packScales}) and arranges
 * the nibbles for its byte lookups itself ({@link IQ4_NLRowGroups}).
 *
 * <p>Q4_0's kernel reads it with 256-bit loads and lane-wise integer arithmetic only: {@code convertShape} is
 * compiled from profiles shared by every caller in the process, and once other kernels converted other shapes a
 * kernel using it measured a third slower. (IQ4_NL's kernel does widen its looked-up bytes, one conversion
 * that measured faster than the lookups it replaced.)
 */
final class NibbleBlockGroups {
    static final int ROWS = 8;
    static final int QK = 32;
    /** Bytes of one block in the file: the F16 scale, then 16 bytes of nibbles. */
    private static final int FILE_BLOCK_BYTES = 18;
    private static final int SCALE_BYTES = 32;
    private static final int LEVEL_BYTES = 128;
    private static final int PAIR_BYTES = SCALE_BYTES + 2 * LEVEL_BYTES;

    private NibbleBlockGroups() {
    }

    static long groupBytes(int cols) {
        int blocks = cols / QK;
        return (long) (blocks / 2) * PAIR_BYTES + (blocks % 2) * (SCALE_BYTES + LEVEL_BYTES);
    }

    /** Whether {@code weight} is a {@code type} matrix of whole groups and blocks whose scales are all finite. */
    static boolean canPack(Tensor weight, GgmlType type) {
        return RowGroupFit.fits(weight, type, 0);
    }

    /** Copies rows {@code [firstRow, firstRow + ROWS)} of a {@code type} matrix into the group at {@code offset}. */
    static void pack(Tensor weight, GgmlType type, int firstRow, MemorySegment dst, long offset) {
        packScales(weight, type, firstRow, dst, offset);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long nibbles = fileNibbles(row, b);
                long levels = levels(pair(offset, b), b);
                for (int q = 0; q < 4; q++) {
                    for (int e = 0; e < 2; e++) {
                        long lane = levels + 32L * q + 2L * (2 * r + e);
                        dst.set(ValueLayouts.I8, lane, src.get(ValueLayouts.I8, nibbles + 4 * q + e));
                        dst.set(ValueLayouts.I8, lane + 1, src.get(ValueLayouts.I8, nibbles + 4 * q + 2 + e));
                    }
                }
            }
        }
    }

    /**
     * Copies the scales of rows {@code [firstRow, firstRow + ROWS)} into the group at {@code offset}, leaving the
     * blocks' 128 bytes of nibbles to a caller that arranges them otherwise ({@link #fileNibbles} reads them).
     */
    static void packScales(Tensor weight, GgmlType type, int firstRow, MemorySegment dst, long offset) {
        RowGroupFit.requireRows(weight, type, firstRow);
        MemorySegment src = weight.segment();
        int blocks = Math.toIntExact(weight.dim(1) / QK);
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            for (int b = 0; b < blocks; b++) {
                long pair = pair(offset, b);
                dst.set(ValueLayouts.I16, pair + 4L * r + 2 * (b % 2), src.get(ValueLayouts.I16, row + (long) b * FILE_BLOCK_BYTES));
                if (b % 2 == 0 && b + 1 == blocks) {
                    dst.set(ValueLayouts.I16, pair + 4L * r + 2, (short) 0);
                }
            }
        }
    }

    /** Where block {@code b}'s 16 bytes of nibbles start in row {@code row} of the file, which starts at that byte. */
    static long fileNibbles(long row, int b) {
        return row + (long) b * FILE_BLOCK_BYTES + 2;
    }

    /** Where the pair holding block {@code b} starts, in the group at byte {@code group}. */
    static long pair(long group, int b) {
        return group + (long) (b / 2) * PAIR_BYTES;
    }

    /** Where block {@code b}'s nibbles start, in the pair at byte {@code pair}. */
    static long levels(long pair, int b) {
        return pair + SCALE_BYTES + (long) (b % 2) * LEVEL_BYTES;
    }

    /** Row r's F16 scale of block {@code b}, at this byte of the pair at {@code pair}. */
    static long scale(long pair, int r, int b) {
        return pair + 4L * r + 2 * (b % 2);
    }

    /** Block {@code b}'s eight row scales as floats, exactly ({@link QuantVectors#f16Lanes}). */
    static FloatVector scales(MemorySegment packed, long pair, int b) {
        return QuantVectors.f16Lanes(packed, pair, b % 2);
    }
}
