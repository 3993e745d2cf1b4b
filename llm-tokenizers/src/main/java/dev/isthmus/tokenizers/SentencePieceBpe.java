package dev.isthmus.tokenizers;

import java.util.PriorityQueue;

/**
 * SentencePiece BPE as llama.cpp runs it for GGUF {@code llama} vocabularies (Llama 2, Mistral, TinyLlama):
 * spaces become {@code ▁}, a dummy-prefix space starts the text and every run after a special token, the
 * text starts as one symbol per character, and the adjacent pair whose concatenation is the
 * highest-scoring vocabulary token merges first (leftmost on ties). Characters left outside the vocabulary
 * fall back to their UTF-8 bytes as {@code <0xNN>} tokens.
 */
final class SentencePieceBpe implements TextModel {
    private final Vocabulary vocab;
    private final float[] scores;
    private final int[] byteIds;
    private final int unknownId;
    private final boolean addSpacePrefix;

    /** @param byteIds the {@code <0xNN>} token of each byte, -1 where the vocabulary has none */
    SentencePieceBpe(Vocabulary vocab, float[] scores, int[] byteIds, int unknownId, boolean addSpacePrefix) {
        this.vocab = vocab;
        this.scores = scores.clone();
        this.byteIds = byteIds.clone();
        this.unknownId = unknownId;
        this.addSpacePrefix = addSpacePrefix;
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
