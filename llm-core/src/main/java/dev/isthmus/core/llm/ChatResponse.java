package dev.isthmus.core.llm;

/**
 * A chat reply: only the new text (the rendered conversation is not repeated).
 *
 * @param text       the assistant's reply
 * @param completion ids, finish reason and timings
 */
public record ChatResponse(String text, Completion completion) {
    public FinishReason finishReason() {
        return completion.finishReason();
    }
}
