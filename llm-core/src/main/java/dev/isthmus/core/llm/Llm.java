package dev.isthmus.core.llm;

/**
 * The entry point of the fluent API.
 *
 * <pre>{@code
 * try (LanguageModel model = Llm.builder()
 *         .model(Path.of("tinyllama-1.1b-chat.Q8_0.gguf"))
 *         .threads(8)
 *         .contextLength(4096)
 *         .build()) {
 *     System.out.println(model.complete("The capital of France is").maxNewTokens(16).text());
 * }
 * }</pre>
 */
public final class Llm {
    private Llm() {
    }

    /** A builder for an encoder (embeddings, fill-mask) model such as BERT. */
    public static dev.isthmus.core.encoder.EncoderBuilder encoder() {
        return new dev.isthmus.core.encoder.EncoderBuilder();
    }

    /** A builder for a decoder (generation) model. */
    public static LanguageModelBuilder builder() {
        return new LanguageModelBuilder();
    }
}
