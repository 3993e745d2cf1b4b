package dev.isthmus.tokenizers;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Decodes generated ids one at a time and emits text only when its bytes form complete UTF-8 characters,
 * so an emoji spread over several byte tokens comes out whole, never as U+FFFD halves.
 *
 * <pre>{@code
 * StreamingDecoder out = tokenizer.newStreamingDecoder(true);
 * for (int id : generatedIds) System.out.print(out.push(id));
 * System.out.print(out.finish());
 * }</pre>
 *
 * <p>Holds state, so it is not thread-safe: use one per generation.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /**
     * Adds one id; returns the text now complete (often empty while a multi-byte character is unfinished).
     *
     * @throws IllegalArgumentException if the id is not in the vocabulary
     */
    public String push(int id) {
        byte[] piece = tokenizer.piece(id, false);
        if (skipSpecialTokens && tokenizer.isSpecialUnchecked(id)) {
            return "";
        }
        if (pendingLength + piece.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + piece.length));
        }
        System.arraycopy(piece, 0, pending, pendingLength, piece.length);
        pendingLength += piece.length;
        int complete = completePrefix(pending, pendingLength);
        if (complete == 0) {
            return "";
        }
        String text = new String(pending, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
        pendingLength -= complete;
        return text;
    }

    /** Returns what is still held back (an unfinished character becomes U+FFFD) and starts afresh. */
    public String finish() {
        String text = new String(pending, 0, pendingLength, StandardCharsets.UTF_8);
        pendingLength = 0;
        return text;
    }

    /** Whether bytes of an unfinished character are held back. */
    public boolean hasPending() {
        return pendingLength > 0;
    }

    /**
     * Length of the longest prefix that does not end inside a character which later bytes could still
     * complete. Only the last up-to-3 bytes can be an unfinished sequence; anything invalid is released
     * (and decodes to U+FFFD) rather than held forever.
     */
    static int completePrefix(byte[] bytes, int length) {
        for (int back = 1; back <= Math.min(3, length); back++) {
            int b = bytes[length - back] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // continuation byte: look further back for its lead
            }
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            return need > back ? length - back : length;
        }
        return length;
    }
}
