package dev.isthmus.tokenizers;

/**
 * What each token decodes to, as bytes, precomputed at load time so decoding is a concatenation.
 * {@code firstPieces} overrides the piece when a token starts the output (SentencePiece drops the
 * dummy-prefix space there; WordPiece puts no space before the first word); null entries fall back.
 */
final class PieceTable {
    private final byte[][] pieces;
    private final byte[][] firstPieces;

    PieceTable(byte[][] pieces, byte[][] firstPieces) {
        this.pieces = pieces;
        this.firstPieces = firstPieces;
    }

    byte[] piece(int id, boolean first) {
        if (first && firstPieces != null && firstPieces[id] != null) {
            return firstPieces[id];
        }
        return pieces[id];
    }
}
