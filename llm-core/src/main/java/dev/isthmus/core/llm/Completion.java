package dev.isthmus.core.llm;

/**
 * The result of a generation.
 *
 * @param promptIds        the prompt as token ids (with BOS when one was added)
 * @param ids              the generated ids (a stop token that ended generation is not included)
 * @param text             the generated text, stop string excluded, as {@code decode(ids)} reads (a SentencePiece
 *                         model's leading space on the first token dropped, as llama.cpp and transformers do)
 * @param finishReason     why generation ended
 * @param prefillMillis    time to process the prompt
 * @param decodeMillis     time spent generating
 */
public record Completion(int[] promptIds, int[] ids, String text, FinishReason finishReason, double prefillMillis,
                         double decodeMillis) {

    /** Prompt tokens per second. */
    public double prefillTokensPerSecond() {
        return prefillMillis <= 0 ? 0 : promptIds.length * 1000.0 / prefillMillis;
    }

    /** Generated tokens per second. */
    public double decodeTokensPerSecond() {
        return decodeMillis <= 0 || ids.length == 0 ? 0 : ids.length * 1000.0 / decodeMillis;
    }
}
