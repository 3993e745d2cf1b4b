package dev.isthmus.tokenizers;

/**
 * llama.cpp's split for StarCoder, SmolLM, Command-R, Refact, CodeShell, EXAONE and Minerva vocabularies: every
 * number character ({@code \p{N}}) is a word of its own, and the text between them goes through GPT-2's split.
 */
final class DigitIsolatingPreTokenizer implements PreTokenizer {
    private final PreTokenizer inner = new Gpt2PreTokenizer();

    @Override
    public void split(String text, int from, int to, IntList ends) {
        int start = from;
        int i = from;
        while (i < to) {
            int cp = PreTokenizer.codePoint(text, i);
            int next = i + Character.charCount(cp);
            if (CharClass.of(cp) == CharClass.NUMBER) {
                if (i > start) {
                    inner.split(text, start, i, ends);
                }
                ends.add(next);
                start = next;
            }
            i = next;
        }
        if (to > start) {
            inner.split(text, start, to, ends);
        }
    }
}
