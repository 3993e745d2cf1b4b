package dev.isthmus.tokenizers;

/**
 * The tokenization algorithm proper (pre-tokenization included) for a run of ordinary text: the
 * {@link Tokenizer} has already cut out added/special tokens and normalized the text.
 */
interface TextModel {
    /**
     * Appends the ids of {@code text[from, to)} (never empty) to {@code out}.
     *
     * @param afterSpecial the run starts the text or follows a special token (SentencePiece adds its
     *     dummy-prefix space there, as llama.cpp does)
     */
    void encode(String text, int from, int to, boolean afterSpecial, IntList out);

    /**
     * As {@link #encode(String, int, int, boolean, IntList)}, also told whether the run is where the whole text
     * starts (no added token before it), which Hugging Face's {@code Metaspace} with {@code prepend_scheme: first}
     * needs.
     */
    default void encode(String text, int from, int to, boolean afterSpecial, boolean textStart, IntList out) {
        encode(text, from, to, afterSpecial, out);
    }
}
