package dev.isthmus.tokenizers;

/**
 * Splits text into the words that byte-level BPE merges within. Implementations cover the whole input:
 * every character belongs to exactly one word, so the words concatenate back to the text.
 */
interface PreTokenizer {
    /** Appends to {@code ends} the exclusive end offset (in chars) of each word of {@code text[from, to)}. */
    void split(String text, int from, int to, IntList ends);

    /** Reads the code point at {@code i}; input never holds lone surrogates (they are replaced earlier). */
    static int codePoint(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) ? s.codePointAt(i) : c;
    }

    /** End of the run of code points of class {@code kind} starting at {@code i}. */
    static int run(String s, int i, int to, byte kind) {
        while (i < to) {
            int cp = codePoint(s, i);
            if (CharClass.of(cp) != kind) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }

    /** Length of an English contraction ({@code s t re ve m ll d}) right after an apostrophe, or 0. */
    static int contraction(String s, int i, int to, boolean ignoreCase) {
        if (i >= to) {
            return 0;
        }
        char a = s.charAt(i);
        char b = i + 1 < to ? s.charAt(i + 1) : 0;
        if (ignoreCase) {
            a = lowerAscii(a);
            b = lowerAscii(b);
        }
        return switch (a) {
            case 's', 't', 'm', 'd' -> 1;
            case 'r', 'v' -> b == 'e' ? 2 : 0;
            case 'l' -> b == 'l' ? 2 : 0;
            default -> 0;
        };
    }

    private static char lowerAscii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
    }
}
