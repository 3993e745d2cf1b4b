package dev.isthmus.core.encoder;

import dev.isthmus.core.gguf.ModelMetadata;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.model.UnsupportedArchitectureException;

/**
 * Hyper-parameters of a BERT encoder, from GGUF metadata ({@code bert.*}).
 *
 * @param dim         hidden width
 * @param layers      blocks
 * @param heads       attention heads
 * @param ffnDim      feed-forward width
 * @param maxTokens   learned positions
 * @param normEps     LayerNorm epsilon
 * @param pooling     default pooling
 */
public record EncoderConfig(int dim, int layers, int heads, int ffnDim, int maxTokens, float normEps, Pooling pooling) {

    public EncoderConfig {
        if (dim <= 0 || layers <= 0 || heads <= 0 || ffnDim <= 0 || maxTokens <= 0 || dim % heads != 0) {
            throw new ModelLoadException("invalid encoder hyper-parameters: dim=" + dim + " layers=" + layers
                    + " heads=" + heads + " ffn=" + ffnDim + " positions=" + maxTokens);
        }
        if ((long) dim * maxTokens > (1L << 28) || layers > 1024) {
            throw new ModelLoadException("implausible encoder size: dim=" + dim + " positions=" + maxTokens);
        }
    }

    static EncoderConfig from(ModelMetadata m) {
        String arch = m.architecture();
        if (!arch.equals("bert") && !arch.equals("nomic-bert") && !arch.equals("jina-bert-v2")) {
            throw new UnsupportedArchitectureException(arch + "' is not an encoder (Llm.encoder() loads 'bert");
        }
        if (!arch.equals("bert")) {
            throw new UnsupportedArchitectureException(arch);
        }
        return new EncoderConfig(m.embeddingLength(), m.blockCount(), m.headCount(), m.feedForwardLength(),
                m.contextLength(), (float) m.layerNormEpsilon().orElse(1e-12),
                Pooling.fromGguf(m.optionalLong(m.arch("pooling_type")).orElse(1)));
    }

    public int headDim() {
        return dim / heads;
    }
}
