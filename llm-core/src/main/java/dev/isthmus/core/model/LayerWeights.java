package dev.isthmus.core.model;

import dev.isthmus.core.tensor.Tensor;

/**
 * One transformer block's weights. Matrices stay memory-mapped {@link Tensor}s; norm weights and biases
 * (a few kilobytes) are decoded to float arrays. Exactly one of {@code wqkv} / ({@code wq}, {@code wk},
 * {@code wv}) is set, and the FFN is gated ({@code ffnGate}), fused gate-up ({@code ffnUp} of 2×ffn rows,
 * {@code ffnGate} null, {@code fusedGateUp}), or plain GELU.
 */
public record LayerWeights(
        float[] attnNorm, float[] attnNormBias,
        Tensor wq, Tensor wk, Tensor wv, float[] bq, float[] bk, float[] bv,
        Tensor wqkv, float[] bqkv,
        Tensor wo, float[] bo,
        float[] ffnNorm, float[] ffnNormBias,
        Tensor ffnGate, Tensor ffnUp, float[] ffnUpBias, Tensor ffnDown, float[] ffnDownBias,
        boolean fusedGateUp) {
}
