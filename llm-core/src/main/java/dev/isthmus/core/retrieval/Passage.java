package dev.isthmus.core.retrieval;

/**
 * A chunk of a source document.
 *
 * @param source where it came from (a file name, URL, …)
 * @param index  its position among the source's chunks
 * @param text   the text
 */
public record Passage(String source, int index, String text) {
}
