package dev.isthmus.tokenizers;

/**
 * BERT's WordPiece after its pre-tokenizer: text splits on whitespace and around each punctuation character,
 * then each word becomes the longest vocabulary prefix, then the longest {@code ##}-continuation, and so on
 * (greedy longest-match-first). A word with a part no token matches, or longer than
 * {@code maxCharsPerWord} characters, becomes the single unknown token.
 */
final class WordPiece implements TextModel {
    private final Vocabulary vocab;
    private final String continuationPrefix;
    private final int unknownId;
    private final int maxCharsPerWord;

    WordPiece(Vocabulary vocab, String continuationPrefix, int unknownId, int maxCharsPerWord) {
        this.vocab = vocab;
        this.continuationPrefix = continuationPrefix;
        this.unknownId = unknownId;
        this.maxCharsPerWord = maxCharsPerWord;
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, IntList out) {
        int i = from;
        while (i < to) {
            int cp = text.codePointAt(i);
            int w = Character.charCount(cp);
            if (CharClass.isWhiteSpace(cp)) {
                i += w;
            } else if (isPunctuation(cp)) {
                encodeWord(text, i, i + w, out);
                i += w;
            } else {
                int end = i + w;
                while (end < to) {
                    int c = text.codePointAt(end);
                    if (CharClass.isWhiteSpace(c) || isPunctuation(c)) {
                        break;
                    }
                    end += Character.charCount(c);
                }
                encodeWord(text, i, end, out);
                i = end;
            }
        }
    }

    private void encodeWord(String text, int from, int to, IntList out) {
        if (text.codePointCount(from, to) > maxCharsPerWord) {
            out.add(unknownId);
            return;
        }
        int mark = out.size();
        int start = from;
        while (start < to) {
            int end = to;
            int found = -1;
            while (start < end) {
                String piece = text.substring(start, end);
                found = vocab.id(start > from ? continuationPrefix + piece : piece);
                if (found >= 0) {
                    break;
                }
                end = Character.isLowSurrogate(text.charAt(end - 1)) && end - 2 > start ? end - 2 : end - 1;
            }
            if (found < 0) {
                truncate(out, mark);
                out.add(unknownId);
                return;
            }
            out.add(found);
            start = end;
        }
    }

    private static void truncate(IntList out, int size) {
        while (out.size() > size) {
            out.removeLast();
        }
    }

    /** BERT's punctuation: ASCII punctuation and symbols, and every Unicode punctuation category. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }
}
