package dev.isthmus.core.model;

import dev.isthmus.core.backend.cpu.Rope;
import dev.isthmus.core.gguf.ModelMetadata;

/**
 * The hyper-parameters of a decoder, read from GGUF metadata.
 *
 * @param family        the decoder family
 * @param dim           embedding width
 * @param layers        transformer blocks
 * @param heads         query heads
 * @param kvHeads       key/value heads (grouped-query attention when fewer than heads)
 * @param headDim       width of one head
 * @param ffnDim        feed-forward width
 * @param vocabSize     vocabulary (rows of the embedding table)
 * @param contextLength the trained context length
 * @param normEps       RMSNorm / LayerNorm epsilon
 * @param ropeBase      RoPE base frequency
 * @param ropeDims      rotated dimensions per head
 * @param ropeStyle     how rotated pairs are formed (null: learned positions). GGUF Llama weights are permuted
 *                      for adjacent pairs; Hugging Face checkpoints of the same model use half-split (NeoX) pairs
 */
public record ModelConfig(Family family, int dim, int layers, int heads, int kvHeads, int headDim, int ffnDim,
                          int vocabSize, int contextLength, float normEps, float ropeBase, int ropeDims,
                          Rope.Style ropeStyle) {

    public ModelConfig {
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0 || vocabSize <= 0
                || contextLength <= 0) {
            throw new ModelLoadException("model hyper-parameters must be positive: dim=" + dim + " layers=" + layers
                    + " heads=" + heads + " kvHeads=" + kvHeads + " headDim=" + headDim + " ffn=" + ffnDim
                    + " vocab=" + vocabSize + " ctx=" + contextLength);
        }
        if (heads % kvHeads != 0) {
            throw new ModelLoadException("head_count " + heads + " is not a multiple of head_count_kv " + kvHeads);
        }
        if (ropeDims > headDim || ropeDims % 2 != 0) {
            throw new ModelLoadException("rope.dimension_count " + ropeDims + " must be even and at most the head size "
                    + headDim);
        }
        // Bound what metadata can make us allocate per session (KV cache: layers × ctx × kv width).
        if ((long) dim * heads > (1L << 26) || layers > 4096 || contextLength > (1 << 24)) {
            throw new ModelLoadException("implausible hyper-parameters: dim=" + dim + " heads=" + heads + " layers="
                    + layers + " ctx=" + contextLength);
        }
    }

    /** Reads the configuration; {@code vocabSize} comes from the embedding table. */
    public static ModelConfig from(ModelMetadata m, int vocabSize) {
        Family family = Family.of(m.architecture());
        int dim = m.embeddingLength();
        int heads = m.headCount();
        int headDim = m.optionalLong(m.arch("attention.key_length")).isPresent()
                ? m.requireInt(m.arch("attention.key_length")) : dim / heads;
        double eps = family == Family.GPT2
                ? m.layerNormEpsilon().orElse(1e-5)
                : m.rmsNormEpsilon().orElse(1e-5);
        int ropeDims = m.optionalLong(m.arch("rope.dimension_count")).isPresent()
                ? m.requireInt(m.arch("rope.dimension_count")) : headDim;
        return new ModelConfig(family, dim, m.blockCount(), heads, m.headCountKv(), headDim, m.feedForwardLength(),
                vocabSize, m.contextLength(), (float) eps, (float) m.ropeFreqBase(), ropeDims, family.ropeStyle());
    }

    /** Width of all query heads together. */
    public int qDim() {
        return heads * headDim;
    }

    /** Width of all key (or value) heads together. */
    public int kvDim() {
        return kvHeads * headDim;
    }
}
