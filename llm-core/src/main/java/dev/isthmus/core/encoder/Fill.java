package dev.isthmus.core.encoder;

/**
 * One candidate for a masked token.
 *
 * @param tokenId  the token id
 * @param token    the token's text
 * @param score    its probability
 * @param sequence the input with the mask replaced by this token
 */
public record Fill(int tokenId, String token, double score, String sequence) {
}
