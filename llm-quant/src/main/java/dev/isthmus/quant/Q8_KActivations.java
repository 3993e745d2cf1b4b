package dev.isthmus.quant;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;

/**
 * What the formats llama.cpp multiplies with Q8_K activation blocks of 256 share (the k-quants Q2_K to Q6_K, and
 * IQ4_XS): decode quantizes the activations that way ({@code quantize_row_q8_K}) for the integer kernels, and
 * prefill rounds them through the same blocks for the float kernels.
 */
interface Q8_KActivations extends BlockFormat {

    @Override
    default boolean quantizesActivations() {
        return IntLanes.AVAILABLE;
    }

    @Override
    default void quantizeActivations(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        checkBlocks(count);
        ActivationRounding.q8_K(src, srcOffset, count, dst);
    }

    @Override
    default void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        ActivationRounding.q8_K(src, srcOffset, dst, dstOffset, count);
    }

    @Override
    default boolean roundsActivations() {
        return true;
    }
}
