package dev.isthmus.tokenizers;

/**
 * A tokenizer description ({@code tokenizer.json}, {@code tokenizer_config.json} or GGUF metadata) is
 * malformed, hostile or uses a component this library does not implement. The message names the field
 * or component at fault, e.g. {@code "model.merges[17]: token 'xy' is not in the vocabulary"}.
 */
public final class TokenizerFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TokenizerFormatException(String message) {
        super(message);
    }

    public TokenizerFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
