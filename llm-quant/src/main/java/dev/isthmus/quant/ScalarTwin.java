package dev.isthmus.quant;

import java.lang.foreign.MemorySegment;

/**
 * A format's scalar decoder, kept beside its vectorised {@code dequantize}: element by element as ggml's
 * {@code dequantize_row_*} writes it. It is the oracle for the vector kernels (tests compare both with it)
 * and the fallback where the Vector API has no suitable shape.
 */
interface ScalarTwin {
    /** Decodes {@code count} elements (whole blocks) at byte {@code offset} into {@code dst[dstOffset..]}. */
    void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count);
}
