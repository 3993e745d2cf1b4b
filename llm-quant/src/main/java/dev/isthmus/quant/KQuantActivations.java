package dev.isthmus.quant;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;

/**
 * What the k-quants (Q2_K to Q6_K) share about their activations: llama.cpp multiplies their weights with Q8_K
 * blocks of 256 ({@code quantize_row_q8_K_ref}), so decode quantizes the activations that way for the integer
 * kernels and prefill rounds them through the same blocks for the float kernels.
 */
interface KQuantActivations extends BlockFormat {

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
