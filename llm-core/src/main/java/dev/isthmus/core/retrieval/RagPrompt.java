package dev.isthmus.core.retrieval;

import java.util.List;

/**
 * Puts retrieved passages before the question, the prompt shape retrieval-augmented generation uses.
 *
 * <pre>{@code
 * String prompt = RagPrompt.build(index.search(question, 3), question);
 * String answer = model.chat().user(prompt).call().text();
 * }</pre>
 */
public final class RagPrompt {
    private RagPrompt() {
    }

    public static String build(List<ScoredPassage> passages, String question) {
        StringBuilder sb = new StringBuilder("Answer the question using only the context below. "
                + "If the context does not contain the answer, say so.\n\nContext:\n");
        int i = 1;
        for (ScoredPassage p : passages) {
            sb.append("[").append(i++).append("] (").append(p.passage().source()).append(")\n")
                    .append(p.passage().text().strip()).append("\n\n");
        }
        return sb.append("Question: ").append(question.strip()).append("\nAnswer:").toString();
    }
}
