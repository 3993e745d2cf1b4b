package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The arithmetic of one tensor storage format: how to turn its blocks back into floats and how to
 * multiply them with activations without materialising the floats.
 *
 * <p>Implementations register through {@link java.util.ServiceLoader} (file
 * {@code META-INF/services/dev.isthmus.core.tensor.BlockFormat}); llm-core ships F32, F16, BF16 and
 * Q8_0, llm-quant adds the k-quants and the rest. Every vectorised kernel has a scalar twin
 * ({@link #dequantize}) that tests use as the oracle. Offsets are in bytes into {@code data}, counts
 * in elements and always a whole number of blocks.
 *
 * <pre>{@code
 * BlockFormat q8 = BlockFormats.require(GgmlType.Q8_0);
 * float[] row = new float[4096];
 * q8.dequantize(weights, rowOffset, row, 0, 4096);
 * float y = q8.dot(weights, rowOffset, activations, 0, 4096);
 * }</pre>
 */
public interface BlockFormat {

    /** The GGUF type this format implements. */
    GgmlType type();

    /** Elements per block. */
    default int blockSize() {
        return type().blockSize();
    }

    /** Bytes per block. */
    default int bytesPerBlock() {
        return type().bytesPerBlock();
    }

    /** Decodes {@code count} elements starting at byte {@code offset} into {@code dst[dstOffset..]}. */
    void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count);

    /** Dot product of {@code count} stored elements with {@code x[xOffset..xOffset+count)}. */
    float dot(MemorySegment data, long offset, float[] x, int xOffset, int count);

    /**
     * {@link #dot} of the four rows at byte offsets {@code o0..o3} with the same activations, into
     * {@code out[outOffset..outOffset+4)}; each result bit for bit what {@link #dot} gives. The default calls
     * {@link #dot} four times; formats whose single-row kernel waits on one accumulator chain override it to
     * interleave the four rows' chains.
     */
    default void dot4(MemorySegment data, long o0, long o1, long o2, long o3, float[] x, int xOffset, int count,
                      float[] out, int outOffset) {
        out[outOffset] = dot(data, o0, x, xOffset, count);
        out[outOffset + 1] = dot(data, o1, x, xOffset, count);
        out[outOffset + 2] = dot(data, o2, x, xOffset, count);
        out[outOffset + 3] = dot(data, o3, x, xOffset, count);
    }

    /**
     * Rounds activations the way llama.cpp's CPU backend does before multiplying them with weights of this
     * format (its {@code vec_dot_type}: F16 weights meet F16 activations, Q8_0 weights Q8_0 activations, …),
     * writing the rounded floats to {@code dst}. Matching this keeps logits within float noise of the
     * reference; the default (F32 activations) copies.
     */
    default void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        System.arraycopy(src, srcOffset, dst, dstOffset, count);
    }

    /** Whether {@link #roundActivations} changes values (false: activations are used as they are). */
    default boolean roundsActivations() {
        return false;
    }

    /**
     * Whether this format has an integer kernel ({@link #dotQuantized}) fed by activations quantized once per
     * matrix × vector product ({@link #quantizeActivations}). Decode uses it when activations are rounded as
     * llama.cpp rounds them: the integer products are exact, which is how llama.cpp computes them too.
     */
    default boolean quantizesActivations() {
        return false;
    }

    /**
     * Quantizes {@code count} activations into {@code dst} so that scale × level equals what
     * {@link #roundActivations} produces.
     *
     * @throws UnsupportedOperationException unless {@link #quantizesActivations()}
     */
    default void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        throw new UnsupportedOperationException(type() + " has no integer kernel");
    }

    /**
     * Dot product of {@code count} stored elements with the quantized activations from element
     * {@code xOffset}: equal, up to float summation order, to {@link #dot} with the rounded activations.
     *
     * @throws UnsupportedOperationException unless {@link #quantizesActivations()}
     */
    default float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        throw new UnsupportedOperationException(type() + " has no integer kernel");
    }

    /**
     * {@link #dotQuantized} of one row with two activation rows (at elements {@code xOffset0} and
     * {@code xOffset1}), into {@code out[out0]} and {@code out[out1]}, each bit for bit what
     * {@link #dotQuantized} gives. Formats override it to unpack the weights once for both; the default
     * calls {@link #dotQuantized} twice.
     */
    default void dotQuantized2(MemorySegment data, long offset, QuantizedActivations x, int xOffset0, int xOffset1,
                               int count, float[] out, int out0, int out1) {
        out[out0] = dotQuantized(data, offset, x, xOffset0, count);
        out[out1] = dotQuantized(data, offset, x, xOffset1, count);
    }

    /**
     * A row-interleaved layout with its own decode kernel ({@link RowGroupLayout}), for backends that may store
     * weights their own way; empty (the default) where the single-row kernels are the fast ones.
     */
    default java.util.Optional<RowGroupLayout> rowGroups() {
        return java.util.Optional.empty();
    }

    /** Whether {@link #quantize} is implemented. */
    default boolean canQuantize() {
        return false;
    }

    /**
     * Encodes {@code count} floats into this format at byte {@code offset} of {@code dst}, bit-exact
     * with the reference (llama.cpp) encoder where one exists.
     *
     * @throws UnsupportedOperationException if this format cannot encode
     */
    default void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        throw new UnsupportedOperationException(type() + " has no encoder");
    }

    /** Checks that {@code count} is a whole number of blocks. */
    default void checkBlocks(int count) {
        if (count % blockSize() != 0) {
            throw new IllegalArgumentException(type() + " works on whole blocks of " + blockSize()
                    + " elements; got " + count);
        }
    }
}
