package dev.isthmus.tokenizers;

/**
 * Hand-written scanner for GPT-2's pre-tokenizer pattern
 * {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}
 * (Hugging Face {@code ByteLevel} with {@code use_regex}, llama.cpp pre-type {@code gpt-2}).
 * It gives the same words as the regex in one linear pass; a regex engine is several times slower here.
 */
final class Gpt2PreTokenizer implements PreTokenizer {
    static final String PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    @Override
    public void split(String s, int from, int to, IntList ends) {
        int i = from;
        while (i < to) {
            i = wordEnd(s, i, to);
            ends.add(i);
        }
    }

    private static int wordEnd(String s, int i, int to) {
        int c = PreTokenizer.codePoint(s, i);
        if (c == '\'') {
            int m = PreTokenizer.contraction(s, i + 1, to, false);
            if (m > 0) {
                return i + 1 + m;
            }
        }
        byte kind = CharClass.of(c);
        int start = i;
        if (c == ' ' && i + 1 < to) {
            byte next = CharClass.of(PreTokenizer.codePoint(s, i + 1));
            if (next != CharClass.SPACE) {
                kind = next;
                start = i + 1;
            }
        }
        if (kind != CharClass.SPACE) {
            return PreTokenizer.run(s, start, to, kind);
        }
        return whitespaceEnd(s, i, to);
    }

    /** {@code \s+(?!\S)|\s+}: a run of spaces leaves its last one to prefix the following word. */
    static int whitespaceEnd(String s, int i, int to) {
        int end = PreTokenizer.run(s, i, to, CharClass.SPACE); // White_Space is all in the BMP: 1 char each
        if (end == to || end - i == 1) {
            return end;
        }
        return end - 1;
    }
}
