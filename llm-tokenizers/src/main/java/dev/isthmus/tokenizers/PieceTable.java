package dev.isthmus.tokenizers;

/**
 * What each token decodes to, as bytes, precomputed at load time so decoding is a concatenation.
 * {@code firstPieces} overrides the piece when a token starts the output (SentencePiece drops the
 * dummy-prefix space there; WordPiece puts no space before the first word); null entries fall back.
 *
 * <p>Hugging Face's {@code ByteFallback} decoder is not a plain concatenation: a run of {@code <0xNN>} tokens
 * becomes its text when the bytes are valid UTF-8 and one U+FFFD per token otherwise, and {@code Strip} after
 * {@code Fuse} trims the whole text. Tables built with {@link #byteFallback} carry what that needs.
 *
 * @param pieces the bytes of each token (for a {@code <0xNN>} token under {@code ByteFallback}, that one byte)
 * @param firstPieces overrides for the first token of the output, or null
 * @param fallbackBytes non-null under HF {@code ByteFallback}: which ids are {@code <0xNN>} tokens
 * @param stripStart leading spaces HF's {@code Strip} removes from the whole decoded text (0 or more)
 */
record PieceTable(byte[][] pieces, byte[][] firstPieces, boolean[] fallbackBytes, int stripStart) {
    PieceTable(byte[][] pieces, byte[][] firstPieces) {
        this(pieces, firstPieces, null, 0);
    }

    static PieceTable byteFallback(byte[][] pieces, boolean[] fallbackBytes, int stripStart) {
        return new PieceTable(pieces, null, fallbackBytes, stripStart);
    }

    byte[] piece(int id, boolean first) {
        if (first && firstPieces != null && firstPieces[id] != null) {
            return firstPieces[id];
        }
        return pieces[id];
    }

    /** Whether decoding must go through {@link #decodeByteFallback}. */
    boolean hasDecoderChain() {
        return fallbackBytes != null || stripStart > 0;
    }

    /** HF's decoder chain {@code [Replace] ByteFallback Fuse [Strip]} over the ids that survived skipping. */
    String decodeByteFallback(int[] ids, int count) {
        StringBuilder text = new StringBuilder(count * 4);
        java.io.ByteArrayOutputStream run = new java.io.ByteArrayOutputStream();
        int runTokens = 0;
        for (int k = 0; k < count; k++) {
            int id = ids[k];
            if (fallbackBytes != null && fallbackBytes[id]) {
                run.writeBytes(pieces[id]);
                runTokens++;
                continue;
            }
            flush(run, runTokens, text);
            runTokens = 0;
            text.append(new String(pieces[id], java.nio.charset.StandardCharsets.UTF_8));
        }
        flush(run, runTokens, text);
        int cut = 0;
        while (cut < stripStart && cut < text.length() && text.charAt(cut) == ' ') {
            cut++;
        }
        return text.substring(cut);
    }

    private static void flush(java.io.ByteArrayOutputStream run, int tokens, StringBuilder text) {
        if (tokens == 0) {
            return;
        }
        try {
            text.append(java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(run.toByteArray())));
        } catch (java.nio.charset.CharacterCodingException e) {
            text.append("\uFFFD".repeat(tokens));
        }
        run.reset();
    }
}
