package dev.isthmus.tokenizers;

import java.text.Normalizer;

/**
 * WordPiece as llama.cpp runs it for GGUF {@code bert} vocabularies, whose word-initial pieces are stored
 * with a leading {@code ▁} and continuations bare (no {@code ##}). It differs from Hugging Face's BERT
 * pipeline in ways that change ids, so it is reproduced rather than approximated: "NFD" keeps only the
 * first code point of a character's decomposition (Hangul syllables keep their first jamo), marks (\p{M})
 * are dropped, lower-casing is the simple one-to-one mapping, and words have no length limit.
 */
final class LlamaCppWordPiece implements TextModel {
    private final Vocabulary vocab;
    private final int unknownId;
    private final int maxTokenLength;
    private final boolean lowercase;
    private final boolean stripAccents;

    LlamaCppWordPiece(Vocabulary vocab, int unknownId, boolean lowercase, boolean stripAccents) {
        this.vocab = vocab;
        this.unknownId = unknownId;
        this.lowercase = lowercase;
        this.stripAccents = stripAccents;
        int max = 0;
        for (int id = 0; id < vocab.size(); id++) {
            max = Math.max(max, vocab.token(id).length());
        }
        this.maxTokenLength = max;
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, IntList out) {
        StringBuilder word = new StringBuilder();
        for (int i = from; i < to; ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (stripAccents && cp >= 0xC0) {
                cp = Normalizer.normalize(Character.toString(cp), Normalizer.Form.NFD).codePointAt(0);
            }
            if (CharClass.isWhiteSpace(cp)) {
                flush(word, out);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(type) || (stripAccents && isMark(type))) {
                continue;
            }
            int c = lowercase ? Character.toLowerCase(cp) : cp;
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || BertNormalizer.isChinese(cp)) {
                flush(word, out);
                word.appendCodePoint(c);
                flush(word, out);
            } else {
                word.appendCodePoint(c);
            }
        }
        flush(word, out);
    }

    /** Greedy longest match over {@code ▁word}; a word with an unmatched position is one unknown token. */
    private void flush(StringBuilder word, IntList out) {
        if (word.isEmpty()) {
            return;
        }
        String w = "\u2581" + word;
        word.setLength(0);
        int mark = out.size();
        int n = w.length();
        for (int i = 0; i < n; ) {
            int found = -1;
            int j = Math.min(n, i + maxTokenLength);
            for (; j > i; j--) {
                found = vocab.id(w.substring(i, j));
                if (found >= 0) {
                    break;
                }
            }
            if (found < 0) {
                while (out.size() > mark) {
                    out.removeLast();
                }
                break;
            }
            out.add(found);
            i = j;
        }
        if (out.size() == mark) {
            out.add(unknownId);
        }
    }

    private static boolean isControl(int type) {
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
                || type == Character.PRIVATE_USE;
    }

    private static boolean isMark(int type) {
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    private static boolean isPunctuation(int type) {
        return switch (type) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static boolean isSymbol(int type) {
        return type == Character.MATH_SYMBOL || type == Character.CURRENCY_SYMBOL
                || type == Character.MODIFIER_SYMBOL || type == Character.OTHER_SYMBOL;
    }
}
