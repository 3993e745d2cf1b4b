package dev.isthmus.tokenizers;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text, leftmost first and longest at a position (Hugging Face's
 * leftmost-longest automaton; llama.cpp's longest-first partition gives the same on real vocabularies).
 * A trie keyed by char keeps the scan linear in the text for ordinary text.
 */
final class AddedTokenMatcher {
    /** A match: the text span {@code [start, end)} it replaces (stripped whitespace included) and its id. */
    record Match(int start, int end, int id) {
    }

    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        AddedToken token;
    }

    private final Node root = new Node();
    private final boolean[] firstChars = new boolean[0x10000];
    private final boolean empty;
    private final boolean asciiStrip;

    /** Hugging Face semantics: lstrip/rstrip swallow Unicode whitespace. */
    AddedTokenMatcher(List<AddedToken> tokens) {
        this(tokens, false);
    }

    /** @param asciiStrip lstrip/rstrip swallow only C {@code isspace} characters, as llama.cpp does */
    AddedTokenMatcher(List<AddedToken> tokens, boolean asciiStrip) {
        this.asciiStrip = asciiStrip;
        for (AddedToken t : tokens) {
            Node node = root;
            for (int i = 0; i < t.content().length(); i++) {
                node = node.children.computeIfAbsent(t.content().charAt(i), c -> new Node());
            }
            if (node.token == null) {
                node.token = t;
            }
            firstChars[t.content().charAt(0)] = true;
        }
        empty = tokens.isEmpty();
    }

    boolean isEmpty() {
        return empty;
    }

    /** The first match in {@code text[from, to)}, or null. Control tokens are skipped unless {@code withSpecial}. */
    Match find(String text, int from, int to, boolean withSpecial) {
        if (empty) {
            return null;
        }
        for (int i = from; i < to; i++) {
            if (!firstChars[text.charAt(i)]) {
                continue;
            }
            AddedToken best = longestAt(text, i, to, withSpecial);
            if (best != null) {
                int start = i;
                int end = i + best.content().length();
                if (best.lstrip()) {
                    while (start > from && isStripped(text.charAt(start - 1))) {
                        start--;
                    }
                }
                if (best.rstrip()) {
                    while (end < to && isStripped(text.charAt(end))) {
                        end++;
                    }
                }
                return new Match(start, end, best.id());
            }
        }
        return null;
    }

    private boolean isStripped(char c) {
        return asciiStrip ? c == ' ' || (c >= '\t' && c <= '\r') : CharClass.isWhiteSpace(c);
    }

    private AddedToken longestAt(String text, int i, int to, boolean withSpecial) {
        Node node = root;
        AddedToken best = null;
        for (int j = i; j < to; j++) {
            node = node.children.get(text.charAt(j));
            if (node == null) {
                break;
            }
            AddedToken t = node.token;
            if (t != null && (withSpecial || !t.special()) && (!t.singleWord() || isWordBoundary(text, i, j + 1))) {
                best = t;
            }
        }
        return best;
    }

    private static boolean isWordBoundary(String text, int start, int end) {
        boolean before = start == 0 || !Character.isLetterOrDigit(text.codePointBefore(start));
        boolean after = end == text.length() || !Character.isLetterOrDigit(text.codePointAt(end));
        return before && after;
    }
}
