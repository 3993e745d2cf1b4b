package dev.isthmus.core.model;

/** More tokens were pushed than the session's context can hold. */
public final class ContextOverflowException extends RuntimeException {
    public ContextOverflowException(int position, int count, int capacity) {
        super("context full: " + position + " tokens held + " + count + " new > context length " + capacity
                + "; start a new session or build the model with a larger contextLength");
    }
}
