/**
 * GGUF block formats beyond llm-core's (Q4_0 … Q6_K, IQ4_NL, IQ4_XS), registered with
 * {@link java.util.ServiceLoader} as {@link dev.isthmus.core.tensor.BlockFormat}s, and the
 * {@link dev.isthmus.quant.Quantizer} that writes them as llama.cpp's quantizer does.
 *
 * <h2>Corrupt block data</h2>
 * A block whose F16 scale is NaN or infinite decodes as ggml decodes it: {@code dequantize} gives the same
 * values as ggml's {@code to_float} (NaN where ggml gives NaN, ±infinity otherwise), and a {@code dot} over the
 * block is NaN or infinite. Nothing throws and no kernel loops on such data: the cost of a block never depends
 * on its contents. Other blocks are unaffected, so a model with one corrupt block produces NaN logits from the
 * first layer that reads it — the same as llama.cpp. Callers that must reject such files check the values
 * they decode; the quantizer refuses non-finite input and output (see {@link dev.isthmus.quant.Quantizer}).
 */
package dev.isthmus.quant;
