package dev.isthmus.tokenizers;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE (GPT-2, Llama 3, Qwen2): text is pre-tokenized into words, each word's UTF-8 bytes start as
 * one token per byte and the adjacent pair of lowest merge rank is merged (leftmost first on ties) until no
 * pair has a rule. Results for short words are cached; long words (a 100k-space run is one word) use a heap,
 * so a word of n bytes costs O(n log n), never O(n^2).
 */
final class ByteLevelBpe implements TextModel {
    private static final int MAX_CACHED_WORD_CHARS = 48;
    private static final int MAX_CACHE_ENTRIES = 1 << 17;

    private final PreTokenizer preTokenizer;
    private final boolean addPrefixSpace;
    private final int[] byteIds;
    private final BpeMergeTable merges;
    private final Map<String, Integer> wholeWords;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param byteIds the id of the single-byte token for each byte value
     * @param wholeWords when non-null ({@code ignore_merges}), a word that is itself in this vocabulary
     *     (keyed by its byte-level spelling) becomes that one token without merging
     */
    ByteLevelBpe(PreTokenizer preTokenizer, boolean addPrefixSpace, int[] byteIds, BpeMergeTable merges,
                 Map<String, Integer> wholeWords) {
        this.preTokenizer = preTokenizer;
        this.addPrefixSpace = addPrefixSpace;
        this.byteIds = byteIds.clone();
        this.merges = merges;
        this.wholeWords = wholeWords;
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, IntList out) {
        if (addPrefixSpace && text.charAt(from) != ' ') {
            text = " " + text.substring(from, to);
            from = 0;
            to = text.length();
        }
        IntList ends = new IntList(Math.min(1 << 16, (to - from) / 3 + 4));
        preTokenizer.split(text, from, to, ends);
        int start = from;
        for (int w = 0; w < ends.size(); w++) {
            int end = ends.get(w);
            encodeWord(text, start, end, out);
            start = end;
        }
    }

    private void encodeWord(String text, int start, int end, IntList out) {
        if (end - start == 1 && text.charAt(start) < 0x80) {
            out.add(byteIds[text.charAt(start)]);
            return;
        }
        if (end - start > MAX_CACHED_WORD_CHARS) {
            out.addAll(computeWord(text.substring(start, end)));
            return;
        }
        String word = text.substring(start, end);
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = computeWord(word);
            if (cache.size() < MAX_CACHE_ENTRIES) {
                cache.put(word, ids);
            }
        }
        out.addAll(ids);
    }

    private int[] computeWord(String word) {
        byte[] utf8 = word.getBytes(StandardCharsets.UTF_8);
        if (wholeWords != null) {
            Integer id = wholeWords.get(ByteLevelAlphabet.encode(utf8, utf8.length));
            if (id != null) {
                return new int[] {id};
            }
        }
        int[] ids = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            ids[i] = byteIds[utf8[i] & 0xFF];
        }
        return merges.apply(ids);
    }

}
