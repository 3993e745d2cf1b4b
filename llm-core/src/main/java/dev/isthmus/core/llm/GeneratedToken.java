package dev.isthmus.core.llm;

/**
 * One generated token as it streams out.
 *
 * @param id    the token id, or -1 for a final piece carrying text that was held back when generation ended
 * @param text  the text this token completes (empty while a multi-byte character or a possible stop string
 *              is still held back; the held text comes out with a later token)
 * @param index 0 for the first generated token
 */
public record GeneratedToken(int id, String text, int index) {
}
