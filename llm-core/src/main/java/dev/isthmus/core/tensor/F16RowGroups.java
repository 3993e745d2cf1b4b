package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * F16 weights eight rows at a time ({@link RowGroupLayout}): column by column, the eight rows' halves side by
 * side, two columns per 32-bit lane (column 2k in the low and 2k + 1 in the high 16 bits of lane r, for row r).
 * A group of {@code cols} columns takes 16 × cols bytes, as the rows do in the file.
 *
 * <p>Why: a single row's F16 dot product in llama.cpp's order is one chain of fused multiply-adds (one 8-lane
 * accumulator, lane j taking columns j, j + 8, ...), so it runs at one FMA latency per eight weights — about
 * 10 GB/s on one core, a third of what memory delivers. Here lane r of accumulator j is row r's lane j: the
 * same products, added in the same order, but eight independent chains, and the reduction of each row's eight
 * partial sums ({@link IntLanes#sumLanes}'s order) is done for the eight rows at once. Results are bit for bit
 * {@link F16Format#dot}'s.
 *
 * <p>Only rows whose length is a multiple of 8 (the order above; llama.cpp sums other lengths another way) and
 * weights without infinities or NaNs (widened here by shifts and a multiply by 2^112, which covers zeros,
 * subnormals and normals exactly) are packed; the others keep the file's layout.
 *
 * <pre>{@code
 * RowGroupLayout layout = new F16Format().rowGroups().orElseThrow();   // where 256-bit vectors run well
 * }</pre>
 */
final class F16RowGroups implements RowGroupLayout {
    static final int ROWS = 8;
    private static final float TWO_POW_112 = 0x1p112f;
    /** Sign, then the half's exponent and mantissa where a float's go, once shifted right by 3 from bit 16. */
    private static final int HALF_BITS = 0x8FFF_E000;
    private static final short EXPONENT = 0x7C00;

    @Override
    public int rows() {
        return ROWS;
    }

    @Override
    public long groupBytes(int cols) {
        return 2L * ROWS * cols;
    }

    @Override
    public boolean canPack(Tensor weight) {
        if (weight.type() != GgmlType.F16 || weight.rank() != 2 || weight.dim(0) % ROWS != 0 || weight.dim(1) % 8 != 0
                || weight.dim(1) > Integer.MAX_VALUE) {
            return false;
        }
        MemorySegment data = weight.segment();
        int cols = (int) weight.dim(1);
        for (long r = 0; r < weight.dim(0); r++) {
            long row = weight.rowOffset(r);
            // An infinity or NaN has all five exponent bits set; the exact widening of the file's layout handles it.
            int c = 0;
            for (; c + 16 <= cols; c += 16) {
                if (ShortVector.fromMemorySegment(IntLanes.S, data, row + 2L * c, ByteOrder.LITTLE_ENDIAN)
                        .and(EXPONENT).compare(VectorOperators.EQ, EXPONENT).anyTrue()) {
                    return false;
                }
            }
            for (; c < cols; c++) {
                if ((data.get(ValueLayouts.I16, row + 2L * c) & EXPONENT) == EXPONENT) {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public void pack(Tensor weight, int firstRow, MemorySegment dst, long offset) {
        if (weight.type() != GgmlType.F16 || weight.rank() != 2 || weight.dim(1) % 8 != 0 || firstRow < 0
                || firstRow % ROWS != 0 || firstRow + ROWS > weight.dim(0)) {
            throw new IllegalArgumentException("cannot pack rows " + firstRow + ".." + (firstRow + ROWS - 1) + " of "
                    + weight + " in F16 groups of " + ROWS + " rows (whole groups, columns a multiple of 8)");
        }
        MemorySegment data = weight.segment();
        int cols = Math.toIntExact(weight.dim(1));
        // A column pair of a row is one 32-bit word in the file too: copied word by word into lane r.
        for (int r = 0; r < ROWS; r++) {
            long row = weight.rowOffset(firstRow + r);
            long lane = offset + 4L * r;
            for (int k = 0; k < cols / 2; k++) {
                dst.set(ValueLayouts.I32, lane + 32L * k, data.get(ValueLayouts.I32, row + 4L * k));
            }
        }
    }

    /** Byte of row r, column c inside a group: column pair c / 2, lane r, low or high half. */
    private static long position(int r, int c) {
        return 32L * (c / 2) + 4L * r + 2L * (c % 2);
    }

    /**
     * Activations rounded to F16 and scaled by 2^112 ({@link QuantizedActivations#values()}): the kernel's weights
     * are the halves' bits shifted into a float, i.e. their values times 2^-112, and fma(w·2^-112, x·2^112, acc)
     * is fma(w, x, acc) exactly — both scalings are exact (a half times 2^112 stays below the largest float), and
     * a fused multiply-add rounds only the exact product plus the accumulator — one multiply less per weight vector.
     */
    @Override
    public void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        dst.roundToHalf(src, srcOffset, count, TWO_POW_112);
    }

    /**
     * Eight rows · the scaled activations. Accumulator j takes columns j, j + 8, ... of all eight rows; the
     * eight are then added in {@link IntLanes#sumLanes}'s order. Written as one method of Vector API calls, as
     * the other group kernels (see {@code KernelInliningTest}).
     */
    @Override
    public void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
                    int outOffset) {
        if (cols % 8 != 0 || xOffset < 0 || xOffset + cols > x.count()) {
            throw new IllegalArgumentException("F16 groups multiply whole groups of 8 columns inside the "
                    + x.count() + " activations, got " + cols + " at " + xOffset);
        }
        float[] v = x.values();
        FloatVector a0 = FloatVector.zero(IntLanes.F);
        FloatVector a1 = FloatVector.zero(IntLanes.F);
        FloatVector a2 = FloatVector.zero(IntLanes.F);
        FloatVector a3 = FloatVector.zero(IntLanes.F);
        FloatVector a4 = FloatVector.zero(IntLanes.F);
        FloatVector a5 = FloatVector.zero(IntLanes.F);
        FloatVector a6 = FloatVector.zero(IntLanes.F);
        FloatVector a7 = FloatVector.zero(IntLanes.F);
        for (int c = 0; c < cols; c += 8) {
            long at = offset + 16L * c;
            int xi = xOffset + c;
            IntVector p0 = IntVector.fromMemorySegment(IntLanes.I, packed, at, ByteOrder.LITTLE_ENDIAN);
            IntVector p1 = IntVector.fromMemorySegment(IntLanes.I, packed, at + 32, ByteOrder.LITTLE_ENDIAN);
            IntVector p2 = IntVector.fromMemorySegment(IntLanes.I, packed, at + 64, ByteOrder.LITTLE_ENDIAN);
            IntVector p3 = IntVector.fromMemorySegment(IntLanes.I, packed, at + 96, ByteOrder.LITTLE_ENDIAN);
            a0 = p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi]), a0);
            a1 = p0.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 1]), a1);
            a2 = p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 2]), a2);
            a3 = p1.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 3]), a3);
            a4 = p2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 4]), a4);
            a5 = p2.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 5]), a5);
            a6 = p3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 6]), a6);
            a7 = p3.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                    .reinterpretAsFloats().fma(FloatVector.broadcast(IntLanes.F, v[xi + 7]), a7);
        }
        // Per row: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), as IntLanes.sumLanes adds one row's lanes.
        a0.add(a4).add(a2.add(a6)).add(a1.add(a5).add(a3.add(a7))).intoArray(out, outOffset);
    }

    @Override
    public void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                           int colStride) {
        if (rowStride == 1) {
            // Column-major panels (prefill): a column's eight rows are one vector.
            for (int c = 0; c < cols; c += 2) {
                IntVector p = IntVector.fromMemorySegment(IntLanes.I, packed, offset + 16L * c, ByteOrder.LITTLE_ENDIAN);
                p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                        .reinterpretAsFloats().mul(TWO_POW_112).intoArray(dst, dstOffset + c * colStride);
                p.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS)
                        .reinterpretAsFloats().mul(TWO_POW_112).intoArray(dst, dstOffset + (c + 1) * colStride);
            }
            return;
        }
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < cols; c++) {
                dst[dstOffset + r * rowStride + c * colStride] =
                        Half.f16ToFloat(packed.get(ValueLayouts.I16, offset + position(r, c)));
            }
        }
    }
}
