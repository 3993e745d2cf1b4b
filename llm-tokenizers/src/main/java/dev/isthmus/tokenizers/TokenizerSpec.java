package dev.isthmus.tokenizers;

/**
 * Everything a loader assembles into a {@link Tokenizer}.
 *
 * @param normalizer null when text goes to the model as is
 * @param rawAddedTokens added tokens matched in the text before normalization
 * @param normalizedAddedTokens added tokens matched after normalization (HF {@code "normalized": true})
 * @param lossless decode(encode(text)) gives the text back (used by documentation and tests)
 * @param endOfGeneration ids at which generation stops (EOS, end of turn, and for GGUF llama.cpp's whole set)
 */
record TokenizerSpec(String kind, Vocabulary vocabulary, TextModel model, TextNormalizer normalizer,
                     AddedTokenMatcher rawAddedTokens, AddedTokenMatcher normalizedAddedTokens,
                     PostProcessor postProcessor, SpecialTokenIds specialTokens, PieceTable pieces,
                     boolean lossless, int[] endOfGeneration) {
}
