package dev.isthmus.tokenizers;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * Turns text into token ids and back, exactly as the model's reference tokenizer does (Hugging Face
 * {@code tokenizers} for {@code tokenizer.json}, llama.cpp for GGUF vocabularies). Byte-level BPE (GPT-2,
 * Llama 3, Qwen2), SentencePiece BPE (Llama 2, Mistral, TinyLlama) and WordPiece (BERT) are supported.
 *
 * <pre>{@code
 * Tokenizer tok = HuggingFaceTokenizerLoader.load(Path.of("tokenizer.json"));
 * int[] ids = tok.encode("Hello world", EncodeOptions.PLAIN_TEXT);   // [15496, 995] for GPT-2
 * String text = tok.decode(ids);                                     // "Hello world"
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe; one tokenizer may serve any number of threads.
 *
 * <p>Bad input: a lone UTF-16 surrogate (text that is not valid Unicode) is replaced by U+FFFD before
 * encoding, as Hugging Face's bindings do; NUL and other control characters are tokenized like any other
 * character (WordPiece's normalizer drops them, as BERT's does); decoding an id outside the vocabulary
 * throws {@link IllegalArgumentException} naming the id, and byte sequences that are not valid UTF-8
 * decode to U+FFFD.
 */
public final class Tokenizer {
    private final TokenizerSpec spec;
    private final Vocabulary vocab;

    Tokenizer(TokenizerSpec spec) {
        this.spec = spec;
        this.vocab = spec.vocabulary();
    }

    /** Encodes with {@link EncodeOptions#DEFAULT}: special tokens added (BOS etc., per the model) and parsed. */
    public int[] encode(String text) {
        return encode(text, EncodeOptions.DEFAULT);
    }

    /** Encodes one text. */
    public int[] encode(String text, EncodeOptions options) {
        IntList out = new IntList(text.length() / 3 + 4);
        PostProcessor post = spec.postProcessor();
        if (options.addSpecialTokens()) {
            out.addAll(post.singlePrefix());
        }
        encodeText(replaceLoneSurrogates(text), options.parseSpecialTokens(), out);
        if (options.addSpecialTokens()) {
            out.addAll(post.singleSuffix());
        }
        return out.toArray();
    }

    /**
     * Encodes a pair of texts (question/passage, sentence pairs for BERT-style models): with special tokens
     * added this is the model's pair template, e.g. {@code [CLS] first [SEP] second [SEP]}.
     */
    public int[] encodePair(String first, String second, EncodeOptions options) {
        IntList out = new IntList((first.length() + second.length()) / 3 + 8);
        PostProcessor post = spec.postProcessor();
        boolean add = options.addSpecialTokens();
        if (add) {
            out.addAll(post.pairPrefix());
        }
        encodeText(replaceLoneSurrogates(first), options.parseSpecialTokens(), out);
        if (add) {
            out.addAll(post.pairMiddle());
        }
        encodeText(replaceLoneSurrogates(second), options.parseSpecialTokens(), out);
        if (add) {
            out.addAll(post.pairSuffix());
        }
        return out.toArray();
    }

    /** Decodes ids to text, special tokens included as their text (Hugging Face's default). */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes ids to text.
     *
     * @param skipSpecialTokens leave out control tokens such as BOS, EOS and {@code <|im_end|>}
     * @throws IllegalArgumentException if an id is not in the vocabulary
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        if (spec.pieces().hasDecoderChain()) {
            int[] kept = new int[ids.length];
            int count = 0;
            for (int id : ids) {
                checkId(id);
                if (!(skipSpecialTokens && vocab.isSpecial(id))) {
                    kept[count++] = id;
                }
            }
            return spec.pieces().decodeByteFallback(kept, count);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
        boolean first = true;
        for (int id : ids) {
            checkId(id);
            if (skipSpecialTokens && vocab.isSpecial(id)) {
                continue;
            }
            bytes.writeBytes(spec.pieces().piece(id, first));
            first = false;
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /**
     * A decoder for generated ids, one at a time, that only emits whole characters (see {@link StreamingDecoder}).
     * Every token decodes as it would in the middle of a text: SentencePiece keeps a token's leading space.
     */
    public StreamingDecoder newStreamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }

    /** The id of a token string as the vocabulary spells it (e.g. {@code "Ġthe"}, {@code "▁the"}, {@code "##ing"}). */
    public OptionalInt tokenToId(String token) {
        int id = vocab.id(token);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * The vocabulary's string for an id, as stored (byte-level and SentencePiece spellings included).
     *
     * @throws IllegalArgumentException if the id is not in the vocabulary
     */
    public String idToToken(int id) {
        checkId(id);
        return vocab.token(id);
    }

    /** Number of ids: one more than the largest id (the embedding matrix has this many rows at least). */
    public int vocabularySize() {
        return vocab.size();
    }

    /** Whether the id is a control token (BOS, EOS, {@code <|im_start|>}...), the ones decoding can skip. */
    public boolean isSpecial(int id) {
        checkId(id);
        return vocab.isSpecial(id);
    }

    /**
     * Whether generation should stop at this id: EOS, end of turn, and for GGUF vocabularies every id llama.cpp
     * treats as end of generation (e.g. Qwen's {@code <|endoftext|>}, {@code <|im_end|>} and FIM separators).
     */
    public boolean isEndOfGeneration(int id) {
        for (int eog : spec.endOfGeneration()) {
            if (eog == id) {
                return true;
            }
        }
        return false;
    }

    /** The ids {@link #isEndOfGeneration(int)} accepts, ascending. */
    public int[] endOfGenerationIds() {
        return spec.endOfGeneration().clone();
    }

    public OptionalInt bosTokenId() {
        return optional(spec.specialTokens().bos());
    }

    public OptionalInt eosTokenId() {
        return optional(spec.specialTokens().eos());
    }

    /** End of turn in chat models ({@code <|eot_id|>}, {@code <|im_end|>}); empty when the model has none. */
    public OptionalInt eotTokenId() {
        return optional(spec.specialTokens().eot());
    }

    public OptionalInt unknownTokenId() {
        return optional(spec.specialTokens().unknown());
    }

    public OptionalInt paddingTokenId() {
        return optional(spec.specialTokens().padding());
    }

    public OptionalInt maskTokenId() {
        return optional(spec.specialTokens().mask());
    }

    /** Whether {@link EncodeOptions#addSpecialTokens()} puts a token before a single text (BOS, [CLS]). */
    public boolean addsPrefixToken() {
        return spec.postProcessor().singlePrefix().length > 0;
    }

    /** Whether {@link EncodeOptions#addSpecialTokens()} puts a token after a single text (EOS, [SEP]). */
    public boolean addsSuffixToken() {
        return spec.postProcessor().singleSuffix().length > 0;
    }

    /** The algorithm, e.g. {@code "byte-level BPE (llama3)"}, {@code "SentencePiece BPE"}, {@code "WordPiece"}. */
    public String kind() {
        return spec.kind();
    }

    /** Whether {@code decode(encode(text))} gives back any text (byte-level BPE; not WordPiece). */
    public boolean isLossless() {
        return spec.lossless();
    }

    @Override
    public String toString() {
        return "Tokenizer[" + spec.kind() + ", " + vocab.size() + " tokens]";
    }

    byte[] piece(int id, boolean first) {
        checkId(id);
        return spec.pieces().piece(id, first);
    }

    boolean isSpecialUnchecked(int id) {
        return vocab.isSpecial(id);
    }

    private void checkId(int id) {
        if (!vocab.contains(id)) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (ids 0.."
                    + (vocab.size() - 1) + (id >= 0 && id < vocab.size() ? ", this id is unused" : "") + ")");
        }
    }

    /** Cuts out added tokens; the text between them goes through normalization and the model. */
    private void encodeText(String text, boolean parseSpecial, IntList out) {
        AddedTokenMatcher raw = spec.rawAddedTokens();
        int pos = 0;
        int end = text.length();
        boolean afterSpecial = true;
        while (pos < end) {
            AddedTokenMatcher.Match m = raw.find(text, pos, end, parseSpecial);
            int gapEnd = m == null ? end : m.start();
            if (gapEnd > pos) {
                encodeOrdinary(text, pos, gapEnd, afterSpecial, pos == 0, parseSpecial, out);
                afterSpecial = false;
            }
            if (m == null) {
                break;
            }
            out.add(m.id());
            afterSpecial = true;
            pos = m.end();
        }
    }

    private void encodeOrdinary(String text, int from, int to, boolean afterSpecial, boolean textStart,
                                boolean parseSpecial, IntList out) {
        TextNormalizer normalizer = spec.normalizer();
        if (normalizer == null) {
            spec.model().encode(text, from, to, afterSpecial, textStart, out);
            return;
        }
        String normalized = normalizer.normalize(text.substring(from, to));
        AddedTokenMatcher matcher = spec.normalizedAddedTokens();
        int pos = 0;
        int end = normalized.length();
        while (pos < end) {
            AddedTokenMatcher.Match m = matcher.find(normalized, pos, end, parseSpecial);
            int gapEnd = m == null ? end : m.start();
            if (gapEnd > pos) {
                spec.model().encode(normalized, pos, gapEnd, afterSpecial, textStart && pos == 0, out);
                afterSpecial = false;
            }
            if (m == null) {
                break;
            }
            out.add(m.id());
            afterSpecial = true;
            pos = m.end();
        }
    }

    private static OptionalInt optional(int id) {
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** Replaces each unpaired surrogate by U+FFFD; returns the same string when there is none. */
    static String replaceLoneSurrogates(String text) {
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i += 2;
                    continue;
                }
                break;
            }
            i++;
        }
        if (i >= n) {
            return text;
        }
        StringBuilder sb = new StringBuilder(n).append(text, 0, i);
        for (; i < n; i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                sb.append(c).append(text.charAt(++i));
            } else {
                sb.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return sb.toString();
    }
}
