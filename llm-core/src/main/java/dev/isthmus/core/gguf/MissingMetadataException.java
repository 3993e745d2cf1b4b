package dev.isthmus.core.gguf;

/** A metadata key a model needs is absent or holds the wrong type. */
public final class MissingMetadataException extends RuntimeException {
    private final String key;

    public MissingMetadataException(String key, String source, String problem) {
        super(source + ": metadata '" + key + "' " + problem);
        this.key = key;
    }

    /** The key that was looked up. */
    public String key() {
        return key;
    }
}
