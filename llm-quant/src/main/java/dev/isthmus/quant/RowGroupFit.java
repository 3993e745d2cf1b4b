package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;

/** The check every row-group layout makes before packing a weight ({@code RowGroupLayout.canPack}). */
final class RowGroupFit {
    private RowGroupFit() {
    }

    /**
     * Throws unless rows {@code [firstRow, firstRow + 8)} of {@code weight}, a 2-D {@code type} matrix of whole
     * blocks, exist: what every layout's {@code pack} requires.
     */
    static void requireRows(Tensor weight, GgmlType type, int firstRow) {
        if (weight.type() != type || weight.rank() != 2 || weight.dim(1) % type.blockSize() != 0 || firstRow < 0
                || firstRow + 8 > weight.dim(0)) {
            throw new IllegalArgumentException("cannot pack rows " + firstRow + ".." + (firstRow + 7) + " of "
                    + weight + " as " + type + " row groups");
        }
    }

    /**
     * Whether {@code weight} is a 2-D {@code type} matrix of whole 8-row groups and whole blocks, on a machine with
     * 256-bit vectors, whose F16 block fields at {@code halfOffsets} (bytes into each block) are all finite: the
     * kernels widen them with integer arithmetic that holds for finite values only.
     */
    static boolean fits(Tensor weight, GgmlType type, int... halfOffsets) {
        if (weight.type() != type || weight.rank() != 2 || weight.dim(0) % 8 != 0
                || weight.dim(1) % type.blockSize() != 0 || !IntLanes.AVAILABLE) {
            return false;
        }
        MemorySegment data = weight.segment();
        long blocks = weight.dim(1) / type.blockSize();
        int blockBytes = type.bytesPerBlock();
        for (long r = 0; r < weight.dim(0); r++) {
            long row = weight.rowOffset(r);
            for (long b = 0; b < blocks; b++) {
                for (int at : halfOffsets) {
                    if ((data.get(ValueLayouts.I16, row + b * blockBytes + at) & 0x7C00) == 0x7C00) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
