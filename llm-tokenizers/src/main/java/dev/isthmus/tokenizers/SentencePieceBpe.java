package dev.isthmus.tokenizers;

import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SentencePiece BPE as llama.cpp runs it for GGUF {@code llama} vocabularies (Llama 2, Mistral, TinyLlama):
 * spaces become {@code ▁}, a dummy-prefix space starts the text and every run after a special token, the
 * text starts as one symbol per character, and the adjacent pair whose concatenation is the
 * highest-scoring vocabulary token merges first (leftmost on ties). Characters left outside the vocabulary
 * fall back to their UTF-8 bytes as {@code <0xNN>} tokens.
 *
 * <p>Speed without changing a single id: a merge only ever forms a vocabulary token, so no symbol can span
 * two adjacent characters that appear next to each other in no token. The text is cut at such points
 * (in practice before most word-initial {@code ▁}), each piece is merged on its own, exactly as the whole
 * would be, and pieces are cached like words in byte-level BPE.
 */
final class SentencePieceBpe implements TextModel {
    private final Vocabulary vocab;
    private final float[] scores;
    private final int[] byteIds;
    private final int unknownId;
    private final boolean addSpacePrefix;
    /** Adjacent code point pairs found inside some token: the text may not be cut between them. */
    private final BpeMergeTable bridgingPairs;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();
    private static final int MAX_CACHE_ENTRIES = 1 << 16;
    private static final int MAX_CACHED_CHARS = 48;

    /** @param byteIds the {@code <0xNN>} token of each byte, -1 where the vocabulary has none */
    SentencePieceBpe(Vocabulary vocab, float[] scores, int[] byteIds, int unknownId, boolean addSpacePrefix) {
        this.vocab = vocab;
        this.scores = scores.clone();
        this.byteIds = byteIds.clone();
        this.unknownId = unknownId;
        this.addSpacePrefix = addSpacePrefix;
        IntList left = new IntList();
        IntList right = new IntList();
        for (int id = 0; id < vocab.size(); id++) {
            String t = vocab.token(id);
            for (int i = 0; t != null && i < t.length(); ) {
                int a = t.codePointAt(i);
                i += Character.charCount(a);
                if (i < t.length()) {
                    left.add(a);
                    right.add(t.codePointAt(i));
                }
            }
        }
        // A pair table keyed by code points; its "rank" only says the pair occurs in some token.
        bridgingPairs = BpeMergeTable.of(left.toArray(), right.toArray(), new int[left.size()]);
    }

    private record Bigram(int left, int right, float score, int size) implements Comparable<Bigram> {
        @Override
        public int compareTo(Bigram o) {
            int c = Float.compare(o.score, score);
            return c != 0 ? c : Integer.compare(left, o.left);
        }
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, IntList out) {
        String s = ((addSpacePrefix && afterSpecial) ? " " : "") + text.substring(from, to);
        s = s.replace(' ', '\u2581');
        int start = 0;
        int prev = s.codePointAt(0);
        for (int i = Character.charCount(prev); i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (bridgingPairs.rank(prev, cp) == BpeMergeTable.NONE) {
                encodePiece(s.substring(start, i), out);
                start = i;
            }
            prev = cp;
            i += Character.charCount(cp);
        }
        encodePiece(s.substring(start), out);
    }

    private void encodePiece(String s, IntList out) {
        if (s.length() > MAX_CACHED_CHARS) {
            merge(s, out);
            return;
        }
        int[] ids = cache.get(s);
        if (ids == null) {
            IntList piece = new IntList(8);
            merge(s, piece);
            ids = piece.toArray();
            if (cache.size() < MAX_CACHE_ENTRIES) {
                cache.put(s, ids);
            }
        }
        out.addAll(ids);
    }

    /** llama.cpp's symbol merging over one piece of escaped text. */
    private void merge(String s, IntList out) {
        int n = s.length();
        int[] start = new int[n];
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        int count = 0;
        for (int i = 0; i < n; ) {
            int w = Character.charCount(s.codePointAt(i));
            start[count] = i;
            len[count] = w;
            prev[count] = count - 1;
            i += w;
            next[count] = i == n ? -1 : count + 1;
            count++;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>();
        for (int i = 1; i < count; i++) {
            tryAdd(s, start, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size) {
                continue; // one side was merged since this pair was queued
            }
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) {
                prev[next[b.right]] = b.left;
            }
            tryAdd(s, start, len, prev[b.left], b.left, queue);
            tryAdd(s, start, len, b.left, next[b.left], queue);
        }
        for (int i = 0; i != -1 && count > 0; i = next[i]) {
            emit(s.substring(start[i], start[i] + len[i]), out);
        }
    }

    private void tryAdd(String s, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        int size = len[left] + len[right];
        int id = vocab.id(s.substring(start[left], start[left] + size));
        if (id >= 0) {
            queue.add(new Bigram(left, right, scores[id], size));
        }
    }

    /** A final symbol is a vocabulary token or a single character spelled as bytes. */
    private void emit(String symbol, IntList out) {
        int id = vocab.id(symbol);
        if (id >= 0) {
            out.add(id);
            return;
        }
        for (byte b : symbol.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            int byteId = byteIds[b & 0xFF];
            out.add(byteId >= 0 ? byteId : unknownId);
        }
    }
}
