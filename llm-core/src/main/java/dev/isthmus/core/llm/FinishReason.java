package dev.isthmus.core.llm;

/** Why a generation ended. */
public enum FinishReason {
    /** The model produced an end-of-sequence / end-of-turn token (or a requested stop token). */
    STOP,
    /** A stop string appeared in the text (it is not part of the result). */
    STOP_STRING,
    /** {@code maxNewTokens} were generated. */
    LENGTH,
    /** The context window is full. */
    CONTEXT_FULL,
    /** The caller cancelled. */
    CANCELLED
}
