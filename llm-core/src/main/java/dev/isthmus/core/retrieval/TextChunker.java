package dev.isthmus.core.retrieval;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits documents into passages of at most {@code maxChars} characters along paragraph, then sentence,
 * then word boundaries, so a passage fits an encoder's context and reads as a unit.
 *
 * <pre>{@code
 * List<Passage> passages = new TextChunker(800).chunk("README.md", text);
 * }</pre>
 */
public final class TextChunker {
    private final int maxChars;

    public TextChunker(int maxChars) {
        if (maxChars < 16) {
            throw new IllegalArgumentException("passages need at least 16 characters, got " + maxChars);
        }
        this.maxChars = maxChars;
    }

    public List<Passage> chunk(String source, String text) {
        List<String> pieces = new ArrayList<>();
        for (String paragraph : text.split("\\n\\s*\\n")) {
            String p = paragraph.strip();
            if (!p.isEmpty()) {
                split(p, pieces);
            }
        }
        // Merge small neighbours up to the limit so passages are not needlessly tiny.
        List<Passage> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String piece : pieces) {
            if (current.length() > 0 && current.length() + 2 + piece.length() > maxChars) {
                out.add(new Passage(source, out.size(), current.toString()));
                current.setLength(0);
            }
            if (current.length() > 0) {
                current.append("\n\n");
            }
            current.append(piece);
        }
        if (current.length() > 0) {
            out.add(new Passage(source, out.size(), current.toString()));
        }
        return out;
    }

    private void split(String text, List<String> out) {
        if (text.length() <= maxChars) {
            out.add(text);
            return;
        }
        int cut = lastBoundary(text, ". ");
        if (cut <= 0) {
            cut = lastBoundary(text, " ");
        }
        if (cut <= 0) {
            cut = maxChars;
        }
        out.add(text.substring(0, cut).strip());
        split(text.substring(cut).strip(), out);
    }

    private int lastBoundary(String text, String boundary) {
        int at = text.lastIndexOf(boundary, maxChars - boundary.length());
        return at <= 0 ? -1 : at + boundary.length() - (boundary.equals(". ") ? 1 : 0);
    }
}
