package dev.isthmus.core.gguf;

/**
 * A GGUF file is malformed: truncated, inconsistent, or asking for absurd sizes. The message names the
 * field and the byte offset at which reading failed.
 */
public final class GgufFormatException extends RuntimeException {
    private final String field;
    private final long offset;

    public GgufFormatException(String field, long offset, String problem) {
        super("GGUF " + field + " at byte " + offset + ": " + problem);
        this.field = field;
        this.offset = offset;
    }

    /** The field being read, e.g. {@code "metadata[3] key"} or {@code "tensor 'output.weight' offset"}. */
    public String field() {
        return field;
    }

    /** The byte offset in the file where the problem was found. */
    public long offset() {
        return offset;
    }
}
