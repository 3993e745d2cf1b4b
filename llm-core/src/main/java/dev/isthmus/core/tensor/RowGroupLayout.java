package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A second storage layout of a block format in which groups of {@link #rows()} weight rows are interleaved
 * block by block, so that one kernel call multiplies a whole group with an activation vector and writes one
 * result per row. Single-row kernels spend most of their time reducing each row's partial sums; interleaved,
 * the rows of a group share every vector lane-wise and the reduction happens once per group. llama.cpp's CPU
 * backend repacks Q4_0, IQ4_NL and Q4_K weights the same way at load time.
 *
 * <p>A backend {@link #pack packs} a weight matrix once (off-heap, released when the backend closes) and then
 * calls {@link #dot} for every group and activation row. Offsets are in bytes, counts in elements.
 *
 * <pre>{@code
 * RowGroupLayout layout = format.rowGroups().orElseThrow();
 * MemorySegment packed = arena.allocate(layout.packedBytes(weight));
 * for (int g = 0; g < rows / layout.rows(); g++) {
 *     layout.pack(weight, g * layout.rows(), packed, g * layout.groupBytes(cols));
 * }
 * layout.quantizeActivations(x, 0, cols, activations);
 * layout.dot(packed, 0, activations, 0, cols, out, 0);   // out[0..rows()) = rows 0..rows()-1 · x
 * }</pre>
 */
public interface RowGroupLayout {

    /** Rows per group. */
    int rows();

    /** Bytes one group of rows with {@code cols} columns takes. */
    long groupBytes(int cols);

    /**
     * Whether {@code weight} can be stored in this layout: 2-D, a whole number of groups of rows, whole blocks
     * per row, and block data the layout's kernel handles (e.g. finite scales).
     */
    boolean canPack(Tensor weight);

    /** Bytes the whole of {@code weight} takes in this layout. */
    default long packedBytes(Tensor weight) {
        return weight.dim(0) / rows() * groupBytes(Math.toIntExact(weight.dim(1)));
    }

    /**
     * Copies rows {@code [firstRow, firstRow + rows())} of {@code weight} into one group at byte
     * {@code offset} of {@code dst}.
     *
     * @throws IllegalArgumentException if {@code weight} cannot be packed or the rows are out of range
     */
    void pack(Tensor weight, int firstRow, MemorySegment dst, long offset);

    /** Quantizes {@code count} activations the way {@link #dot} reads them. */
    void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst);

    /**
     * {@code out[outOffset + r]} = row r of the group at byte {@code offset} of {@code packed} · the activations
     * from element {@code xOffset}, for every r below {@link #rows()}; each row summed in the same order as the
     * format's reference arithmetic. Where that reference rounds a prompt's tokens differently from decode
     * (llama.cpp's 4-token Q4_K kernel), a layout reads the batch from {@code x}: the caller quantizes one
     * product's tokens back to back, {@code cols} activations each, so {@code x.count() / cols} is the batch size.
     */
    void dot(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols, float[] out,
             int outOffset);

    /**
     * The most tokens {@link #dotTokens} multiplies in one call while decoding the group's weights once for all
     * of them; 1 where the layout has no such kernel.
     */
    default int tokensPerCall() {
        return 1;
    }

    /**
     * As {@link #dot} for {@code tokens} tokens in a row: token t's activations from {@code xOffset + t * cols}, its
     * results to {@code out[outOffset + t * outStride + r]}, each value bit for bit what {@link #dot} gives it. A
     * short prompt costs the weight decoding once per group and call rather than once per token. Calls of
     * {@link #tokensPerCall()} tokens share it; a layout may run other counts token by token.
     *
     * <pre>{@code
     * layout.quantizeActivations(x, 0, 4 * cols, activations);            // four tokens back to back
     * layout.dotTokens(packed, 0, activations, 0, cols, 4, out, 0, rows); // out[t * rows + r]
     * }</pre>
     */
    default void dotTokens(MemorySegment packed, long offset, QuantizedActivations x, int xOffset, int cols,
                           int tokens, float[] out, int outOffset, int outStride) {
        for (int t = 0; t < tokens; t++) {
            dot(packed, offset, x, xOffset + t * cols, cols, out, outOffset + t * outStride);
        }
    }

    /**
     * Decodes the group at byte {@code offset}: row r, column c to {@code dst[dstOffset + r * rowStride + c * colStride]}.
     * Row-major is {@code (cols, 1)}; {@code (1, n)} writes the column-major panels of prefill's float kernels
     * (rows of one column side by side), which implementations decode with vectors.
     */
    void dequantize(MemorySegment packed, long offset, int cols, float[] dst, int dstOffset, int rowStride,
                    int colStride);
}
