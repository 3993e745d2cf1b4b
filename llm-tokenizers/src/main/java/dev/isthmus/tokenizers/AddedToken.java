package dev.isthmus.tokenizers;

/**
 * A token matched in the text before the model runs ({@code added_tokens} of {@code tokenizer.json},
 * control and user-defined tokens of a GGUF vocabulary).
 *
 * @param special a control token: only matched when special tokens are parsed
 * @param lstrip the match swallows whitespace on its left
 * @param rstrip the match swallows whitespace on its right
 * @param singleWord only matched when not inside a word
 */
record AddedToken(String content, int id, boolean special, boolean lstrip, boolean rstrip, boolean singleWord) {
    AddedToken {
        if (content.isEmpty()) {
            throw new IllegalArgumentException("added token " + id + " has empty content");
        }
    }
}
