package dev.isthmus.tokenizers;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SentencePiece-style BPE as Hugging Face {@code tokenizers} runs a {@code tokenizer.json} with
 * {@code model.type = "BPE"} and {@code byte_fallback} (Llama 2, Mistral, TinyLlama, Phi-3): a word starts as
 * one symbol per character; a character missing from the vocabulary becomes its UTF-8 bytes as
 * {@code <0xNN>} tokens (when all of them exist) or {@code unk_token} (consecutive ones fused into one with
 * {@code fuse_unk}); then the merges apply by rank, lowest first, leftmost on ties. Unlike llama.cpp's
 * score-driven SentencePiece on GGUF, the order comes from the merges list.
 *
 * <p>Spaces become {@code ▁} either in the normalizer ({@code Prepend} + {@code Replace}, handled before this
 * model) or here, as the {@link Metaspace} pre-tokenizer.
 *
 * <p>Speed without changing an id: a merged symbol's text is the concatenation of its halves, so no symbol can
 * span two adjacent in-vocabulary characters that appear next to each other in no token. A word is cut at
 * such points, each piece is merged on its own exactly as the whole would be, and short pieces are cached.
 */
final class ByteFallbackBpe implements TextModel {
    /** HF's {@code Metaspace} pre-tokenizer: spaces to {@code replacement}, a prefix per scheme, optional split. */
    record Metaspace(char replacement, PrependScheme prependScheme, boolean split) {
    }

    enum PrependScheme { ALWAYS, FIRST, NEVER }

    private static final int MAX_CACHE_ENTRIES = 1 << 16;
    private static final int MAX_CACHED_CHARS = 48;

    private final Map<String, Integer> vocab;
    private final BpeMergeTable merges;
    private final int[] byteIds;
    private final int unknownId;
    private final boolean fuseUnknown;
    private final boolean ignoreMerges;
    private final Metaspace metaspace;
    /** Adjacent code point pairs found inside some token: a word may not be cut between them. */
    private final BpeMergeTable bridgingPairs;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab the model's vocabulary (token to id)
     * @param byteIds the {@code <0xNN>} token of each byte, -1 where the vocabulary has none (all -1 without
     *     {@code byte_fallback})
     * @param unknownId the {@code unk_token} id, -1 when there is none (unknown characters are then dropped, as HF does)
     * @param metaspace the pre-tokenizer, or null when the normalizer has already put in the {@code ▁}
     */
    ByteFallbackBpe(Map<String, Integer> vocab, BpeMergeTable merges, int[] byteIds, int unknownId,
                    boolean fuseUnknown, boolean ignoreMerges, Metaspace metaspace) {
        this.vocab = Map.copyOf(vocab);
        this.merges = merges;
        this.byteIds = byteIds.clone();
        this.unknownId = unknownId;
        this.fuseUnknown = fuseUnknown;
        this.ignoreMerges = ignoreMerges;
        this.metaspace = metaspace;
        IntList left = new IntList();
        IntList right = new IntList();
        for (String t : vocab.keySet()) {
            for (int i = 0; i < t.length(); ) {
                int a = t.codePointAt(i);
                i += Character.charCount(a);
                if (i < t.length()) {
                    left.add(a);
                    right.add(t.codePointAt(i));
                }
            }
        }
        bridgingPairs = BpeMergeTable.of(left.toArray(), right.toArray(), new int[left.size()]);
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, IntList out) {
        encode(text, from, to, afterSpecial, false, out);
    }

    @Override
    public void encode(String text, int from, int to, boolean afterSpecial, boolean textStart, IntList out) {
        String s = text.substring(from, to);
        if (metaspace == null) {
            encodeWord(s, out);
            return;
        }
        char rep = metaspace.replacement();
        s = s.replace(' ', rep);
        boolean prepend = switch (metaspace.prependScheme()) {
            case ALWAYS -> true;
            case FIRST -> textStart;
            case NEVER -> false;
        };
        if (prepend && s.charAt(0) != rep) {
            s = rep + s;
        }
        if (!metaspace.split()) {
            encodeWord(s, out);
            return;
        }
        int start = 0;
        for (int i = 1; i < s.length(); i++) {
            if (s.charAt(i) == rep) { // MergedWithNext: each replacement char starts a word
                encodeWord(s.substring(start, i), out);
                start = i;
            }
        }
        encodeWord(s.substring(start), out);
    }

    private void encodeWord(String word, IntList out) {
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int start = 0;
        int prev = word.codePointAt(0);
        boolean prevKnown = vocab.containsKey(word.substring(0, Character.charCount(prev)));
        for (int i = Character.charCount(prev); i < word.length(); ) {
            int cp = word.codePointAt(i);
            int w = Character.charCount(cp);
            boolean known = vocab.containsKey(word.substring(i, i + w));
            if (prevKnown && known && bridgingPairs.rank(prev, cp) == BpeMergeTable.NONE) {
                encodePiece(word.substring(start, i), out);
                start = i;
            }
            prev = cp;
            prevKnown = known;
            i += w;
        }
        encodePiece(word.substring(start), out);
    }

    private void encodePiece(String piece, IntList out) {
        if (piece.length() > MAX_CACHED_CHARS) {
            out.addAll(merges.apply(symbols(piece)));
            return;
        }
        int[] ids = cache.get(piece);
        if (ids == null) {
            ids = merges.apply(symbols(piece));
            if (cache.size() < MAX_CACHE_ENTRIES) {
                cache.put(piece, ids);
            }
        }
        out.addAll(ids);
    }

    /**
     * HF's {@code BPE::merge_word} before merging: a symbol per character, byte fallback, unknown tokens. As in
     * HF, a pending unknown is written only when a known character or the end comes, so it follows any
     * byte-fallback tokens in between.
     */
    private int[] symbols(String piece) {
        IntList ids = new IntList(piece.length() + 4);
        boolean pendingUnknown = false;
        for (int i = 0; i < piece.length(); ) {
            int w = Character.charCount(piece.codePointAt(i));
            String ch = piece.substring(i, i + w);
            i += w;
            Integer id = vocab.get(ch);
            if (id != null) {
                if (pendingUnknown) {
                    ids.add(unknownId);
                    pendingUnknown = false;
                }
                ids.add(id);
                continue;
            }
            if (addBytes(ch, ids)) {
                continue;
            }
            if (unknownId >= 0) {
                if (pendingUnknown && !fuseUnknown) {
                    ids.add(unknownId);
                }
                pendingUnknown = true;
            }
        }
        if (pendingUnknown) {
            ids.add(unknownId);
        }
        return ids.toArray();
    }

    private boolean addBytes(String ch, IntList ids) {
        byte[] utf8 = ch.getBytes(StandardCharsets.UTF_8);
        for (byte b : utf8) {
            if (byteIds[b & 0xFF] < 0) {
                return false;
            }
        }
        for (byte b : utf8) {
            ids.add(byteIds[b & 0xFF]);
        }
        return true;
    }
}
