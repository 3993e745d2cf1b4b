package dev.isthmus.core.encoder;

/** How token vectors become one sentence vector. */
public enum Pooling {
    /** Mean over the sequence's tokens (sentence-transformers' default; GGUF {@code pooling_type} 1). */
    MEAN,
    /** The first ([CLS]) token's vector (GGUF {@code pooling_type} 2). */
    CLS,
    /** The last token's vector (GGUF {@code pooling_type} 3). */
    LAST;

    /** The pooling a GGUF {@code <arch>.pooling_type} value names; MEAN when absent or unknown. */
    static Pooling fromGguf(long type) {
        return switch ((int) type) {
            case 2 -> CLS;
            case 3 -> LAST;
            default -> MEAN;
        };
    }
}
