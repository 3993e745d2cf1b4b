package dev.isthmus.core.retrieval;

/** A retrieved passage and its cosine similarity to the query. */
public record ScoredPassage(Passage passage, double score) {
}
