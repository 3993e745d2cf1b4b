package dev.isthmus.tokenizers;

/**
 * Hand-written scanner for the Llama 3 pre-tokenizer pattern
 * {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}
 * and Qwen2's, which differs only in taking digits one at a time ({@code \p{N}} instead of {@code \p{N}{1,3}}).
 * Linear time; gives the same words as the regex.
 */
final class Llama3PreTokenizer implements PreTokenizer {
    static final String LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private final int maxDigits;

    /** @param maxDigits 3 for Llama 3, 1 for Qwen2 */
    Llama3PreTokenizer(int maxDigits) {
        this.maxDigits = maxDigits;
    }

    @Override
    public void split(String s, int from, int to, IntList ends) {
        int i = from;
        while (i < to) {
            i = wordEnd(s, i, to);
            ends.add(i);
        }
    }

    private int wordEnd(String s, int i, int to) {
        int c = PreTokenizer.codePoint(s, i);
        if (c == '\'') {
            int m = PreTokenizer.contraction(s, i + 1, to, true);
            if (m > 0) {
                return i + 1 + m;
            }
        }
        byte kind = CharClass.of(c);
        int width = Character.charCount(c);
        if (kind == CharClass.LETTER) {
            return PreTokenizer.run(s, i, to, CharClass.LETTER);
        }
        byte next = i + width < to ? CharClass.of(PreTokenizer.codePoint(s, i + width)) : -1;
        if (kind != CharClass.NUMBER && c != '\r' && c != '\n' && next == CharClass.LETTER) {
            return PreTokenizer.run(s, i + width, to, CharClass.LETTER);
        }
        if (kind == CharClass.NUMBER) {
            return digitsEnd(s, i, to);
        }
        if (kind == CharClass.OTHER || (c == ' ' && next == CharClass.OTHER)) {
            int j = PreTokenizer.run(s, kind == CharClass.OTHER ? i : i + 1, to, CharClass.OTHER);
            while (j < to && isNewline(s.charAt(j))) {
                j++;
            }
            return j;
        }
        // Whitespace: \s*[\r\n]+ ends after the run's last CR/LF; otherwise \s+(?!\S)|\s+.
        int end = PreTokenizer.run(s, i, to, CharClass.SPACE);
        for (int m = end - 1; m >= i; m--) {
            if (isNewline(s.charAt(m))) {
                return m + 1;
            }
        }
        return Gpt2PreTokenizer.whitespaceEnd(s, i, to);
    }

    private int digitsEnd(String s, int i, int to) {
        for (int count = 0; count < maxDigits && i < to; count++) {
            int cp = PreTokenizer.codePoint(s, i);
            if (CharClass.of(cp) != CharClass.NUMBER) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }

    private static boolean isNewline(char c) {
        return c == '\r' || c == '\n';
    }
}
