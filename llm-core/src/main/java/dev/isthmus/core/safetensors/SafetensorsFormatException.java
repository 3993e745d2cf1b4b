package dev.isthmus.core.safetensors;

/** A safetensors file is malformed; the message names the field and byte offset. */
public final class SafetensorsFormatException extends RuntimeException {
    private final String field;
    private final long offset;

    public SafetensorsFormatException(String field, long offset, String problem) {
        super("safetensors " + field + " at byte " + offset + ": " + problem);
        this.field = field;
        this.offset = offset;
    }

    public SafetensorsFormatException(String field, long offset, String problem, Throwable cause) {
        this(field, offset, problem);
        initCause(cause);
    }

    public String field() {
        return field;
    }

    public long offset() {
        return offset;
    }
}
