package dev.isthmus.tokenizers;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a Hugging Face {@code tokenizer.json}, optionally with its {@code tokenizer_config.json} (BOS/EOS
 * names and {@code add_bos_token}/{@code add_eos_token}).
 *
 * <pre>{@code
 * Tokenizer llama3 = HuggingFaceTokenizerLoader.load(Path.of("tokenizer.json"), Path.of("tokenizer_config.json"));
 * }</pre>
 *
 * <p>Supported: models {@code BPE} (byte-level, and SentencePiece-style with {@code byte_fallback},
 * {@code fuse_unk} and {@code unk_token} as Llama 2, Mistral, TinyLlama and Phi-3 ship it) and {@code WordPiece};
 * normalizers {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD}, {@code Lowercase}, {@code BertNormalizer},
 * {@code Prepend}, {@code Replace} (String pattern), {@code Sequence}; pre-tokenizers {@code ByteLevel},
 * {@code Split} (Isolated) followed by {@code ByteLevel}, {@code BertPreTokenizer}, {@code Metaspace};
 * post-processors {@code ByteLevel}, {@code TemplateProcessing}, {@code BertProcessing},
 * {@code RobertaProcessing}, {@code Sequence}; decoders {@code ByteLevel}, {@code WordPiece}, {@code Metaspace},
 * and {@code Sequence} of {@code Replace}, {@code ByteFallback}, {@code Fuse}, {@code Strip}. Anything
 * else fails with a {@link TokenizerFormatException} naming the component, never a silent approximation.
 * {@code truncation} and {@code padding} are batch policies and are ignored: one text in, all its ids out.
 */
public final class HuggingFaceTokenizerLoader {
    /** Largest vocabulary accepted (ids must be below this), so a hostile file cannot demand a huge table. */
    public static final int MAX_VOCABULARY_SIZE = 1 << 22;

    private static final ObjectMapper JSON = new ObjectMapper();

    private HuggingFaceTokenizerLoader() {
    }

    /** Loads {@code tokenizer.json} alone. */
    public static Tokenizer load(Path tokenizerJson) throws IOException {
        return load(tokenizerJson, null);
    }

    /**
     * Loads {@code tokenizer.json} with its {@code tokenizer_config.json}.
     *
     * @param tokenizerConfigJson may be null
     * @throws TokenizerFormatException if a file is malformed or uses an unsupported component
     */
    public static Tokenizer load(Path tokenizerJson, Path tokenizerConfigJson) throws IOException {
        String config = tokenizerConfigJson == null ? null : Files.readString(tokenizerConfigJson, StandardCharsets.UTF_8);
        try {
            return fromJson(Files.readString(tokenizerJson, StandardCharsets.UTF_8), config);
        } catch (TokenizerFormatException e) {
            throw new TokenizerFormatException(tokenizerJson + ": " + e.getMessage(), e);
        }
    }

    /** Builds a tokenizer from the text of {@code tokenizer.json} and (nullable) {@code tokenizer_config.json}. */
    public static Tokenizer fromJson(String tokenizerJson, String tokenizerConfigJson) {
        JsonNode root = parse(tokenizerJson, "tokenizer.json");
        JsonNode config = tokenizerConfigJson == null ? null : parse(tokenizerConfigJson, "tokenizer_config.json");
        if (!root.isObject()) {
            throw new TokenizerFormatException("tokenizer.json: expected an object at the top, found " + JsonFields.describe(root));
        }
        if (config != null && !config.isObject()) {
            throw new TokenizerFormatException("tokenizer_config.json: expected an object at the top");
        }
        return new HfBuild(root, config).build();
    }

    private static JsonNode parse(String text, String what) {
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null) {
                throw new TokenizerFormatException(what + ": empty document");
            }
            return node;
        } catch (JacksonException e) {
            throw new TokenizerFormatException(what + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** One load: the parsed documents and what has been derived from them so far. */
    private static final class HfBuild {
        private final JsonNode root;
        private final JsonNode config;
        private final JsonNode model;
        private final Map<String, Integer> modelVocab = new HashMap<>();
        private final List<AddedToken> added = new ArrayList<>();
        private final List<Boolean> addedNormalized = new ArrayList<>();
        private Vocabulary vocab;

        HfBuild(JsonNode root, JsonNode config) {
            this.root = root;
            this.config = config;
            this.model = JsonFields.object(root, "model", "tokenizer.json");
        }

        Tokenizer build() {
            String type = JsonFields.string(model, "type", "model");
            readModelVocab();
            readAddedTokens();
            vocab = buildVocabulary();
            TextNormalizer normalizer = HfComponents.normalizer(JsonFields.optional(root, "normalizer"), "normalizer");
            TextModel textModel;
            PieceTable pieces;
            String kind;
            boolean lossless;
            JsonNode pre = JsonFields.optional(root, "pre_tokenizer");
            JsonNode decoder = JsonFields.optional(root, "decoder");
            boolean sentencePiece = type.equals("BPE") && isSentencePieceStyle(pre);
            switch (sentencePiece ? "BPE with byte_fallback or Metaspace" : type) {
                case "BPE with byte_fallback or Metaspace" -> {
                    textModel = byteFallbackBpe(pre);
                    pieces = HfComponents.sentencePiecePieces(decoder, vocab);
                    kind = "SentencePiece BPE (tokenizer.json)";
                    lossless = pieces.fallbackBytes() != null && pieces.stripStart() == 1 && prependsSpace(root);
                }
                case "BPE" -> {
                    HfComponents.ByteLevelSplit split = HfComponents.byteLevelPreTokenizer(pre);
                    textModel = byteLevelBpe(split);
                    pieces = HfComponents.byteLevelPieces(decoder, vocab);
                    kind = "byte-level BPE (" + split.name() + ")";
                    lossless = true;
                }
                case "WordPiece" -> {
                    textModel = wordPiece(pre);
                    pieces = HfComponents.wordPiecePieces(decoder, vocab);
                    kind = "WordPiece";
                    lossless = false;
                }
                default -> throw new TokenizerFormatException("model.type '" + type
                        + "' is not supported (supported: BPE with a ByteLevel pre-tokenizer, WordPiece)");
            }
            PostProcessor post = HfComponents.postProcessor(JsonFields.optional(root, "post_processor"), vocab);
            SpecialTokenIds specials = specialTokens(post);
            post = applyConfigFlags(post, specials);
            List<AddedToken> raw = new ArrayList<>();
            List<AddedToken> normalized = new ArrayList<>();
            for (int i = 0; i < added.size(); i++) {
                AddedToken t = added.get(i);
                if (normalizer != null && addedNormalized.get(i)) {
                    normalized.add(new AddedToken(normalizer.normalize(t.content()), t.id(), t.special(),
                            t.lstrip(), t.rstrip(), t.singleWord()));
                } else {
                    raw.add(t);
                }
            }
            return new Tokenizer(new TokenizerSpec(kind, vocab, textModel, normalizer, new AddedTokenMatcher(raw),
                    new AddedTokenMatcher(normalized), post, specials, pieces, lossless,
                    java.util.stream.IntStream.of(specials.eos(), specials.eot()).filter(id -> id >= 0).sorted()
                            .distinct().toArray()));
        }

        private void readModelVocab() {
            JsonNode v = JsonFields.object(model, "vocab", "model");
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                int id = JsonFields.integer(e.getValue(), "model.vocab['" + e.getKey() + "']");
                checkIdRange(id, "model.vocab['" + e.getKey() + "']");
                modelVocab.put(e.getKey(), id);
            }
        }

        private void readAddedTokens() {
            JsonNode list = JsonFields.optional(root, "added_tokens");
            if (list == null) {
                return;
            }
            if (!list.isArray()) {
                throw new TokenizerFormatException("added_tokens: expected an array, found " + JsonFields.describe(list));
            }
            for (int i = 0; i < list.size(); i++) {
                String path = "added_tokens[" + i + "]";
                JsonNode t = list.get(i);
                if (!t.isObject()) {
                    throw new TokenizerFormatException(path + ": expected an object, found " + JsonFields.describe(t));
                }
                int id = JsonFields.integer(t.get("id"), path + ".id");
                checkIdRange(id, path + ".id");
                String content = JsonFields.string(t, "content", path);
                if (content.isEmpty()) {
                    throw new TokenizerFormatException(path + ".content: empty");
                }
                boolean special = JsonFields.bool(t, "special", false, path);
                added.add(new AddedToken(content, id, special, JsonFields.bool(t, "lstrip", false, path),
                        JsonFields.bool(t, "rstrip", false, path), JsonFields.bool(t, "single_word", false, path)));
                addedNormalized.add(JsonFields.bool(t, "normalized", !special, path));
            }
        }

        private static void checkIdRange(int id, String path) {
            if (id < 0 || id >= MAX_VOCABULARY_SIZE) {
                throw new TokenizerFormatException(path + ": id " + id + " is outside 0.." + (MAX_VOCABULARY_SIZE - 1));
            }
        }

        private Vocabulary buildVocabulary() {
            int size = 0;
            for (int id : modelVocab.values()) {
                size = Math.max(size, id + 1);
            }
            for (AddedToken t : added) {
                size = Math.max(size, t.id() + 1);
            }
            String[] tokens = new String[size];
            boolean[] special = new boolean[size];
            for (Map.Entry<String, Integer> e : modelVocab.entrySet()) {
                String other = tokens[e.getValue()];
                if (other != null) {
                    throw new TokenizerFormatException("model.vocab: id " + e.getValue() + " is given to both '"
                            + other + "' and '" + e.getKey() + "'");
                }
                tokens[e.getValue()] = e.getKey();
            }
            for (AddedToken t : added) {
                tokens[t.id()] = t.content();
                special[t.id()] = t.special();
            }
            return new Vocabulary(tokens, special);
        }

        private TextModel byteLevelBpe(HfComponents.ByteLevelSplit split) {
            if (JsonFields.optional(model, "dropout") != null) {
                throw new TokenizerFormatException("model.dropout: BPE dropout is not supported (it makes encoding random)");
            }
            for (String affix : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
                String value = JsonFields.optionalString(model, affix, "model");
                if (value != null && !value.isEmpty()) {
                    throw new TokenizerFormatException("model." + affix + " '" + value + "' is not supported with byte-level BPE");
                }
            }
            int[] byteIds = new int[256];
            for (int b = 0; b < 256; b++) {
                Integer id = modelVocab.get(String.valueOf(ByteLevelAlphabet.charOf(b)));
                if (id == null) {
                    throw new TokenizerFormatException(String.format("model.vocab: no token for byte 0x%02X ('%s'),"
                            + " which byte-level BPE needs", b, ByteLevelAlphabet.charOf(b)));
                }
                byteIds[b] = id;
            }
            BpeMergeTable merges = HfComponents.merges(JsonFields.array(model, "merges", "model"), modelVocab);
            boolean ignoreMerges = JsonFields.bool(model, "ignore_merges", false, "model");
            return new ByteLevelBpe(split.preTokenizer(), split.addPrefixSpace(), byteIds, merges,
                    ignoreMerges ? Map.copyOf(modelVocab) : null);
        }

        /**
         * BPE with {@code byte_fallback}, or over {@code ▁}-marked text: a Metaspace pre-tokenizer, or none with a
         * decoder other than ByteLevel (the normalizer puts in the {@code ▁}, as in Llama 2's file).
         */
        private boolean isSentencePieceStyle(JsonNode pre) {
            if (JsonFields.bool(model, "byte_fallback", false, "model")) {
                return true;
            }
            if (pre != null) {
                return "Metaspace".equals(JsonFields.optionalString(pre, "type", "pre_tokenizer"));
            }
            JsonNode decoder = JsonFields.optional(root, "decoder");
            return decoder != null && !"ByteLevel".equals(JsonFields.optionalString(decoder, "type", "decoder"));
        }

        /** Llama 2's normalizer {@code Sequence[Prepend("▁"), Replace(" ", "▁")]}, which Strip(1) undoes on decode. */
        private static boolean prependsSpace(JsonNode root) {
            JsonNode n = JsonFields.optional(root, "normalizer");
            if (n == null || !"Sequence".equals(n.path("type").asText())) {
                return false;
            }
            boolean prepend = false;
            for (JsonNode step : n.path("normalizers")) {
                prepend |= "Prepend".equals(step.path("type").asText());
            }
            return prepend;
        }

        private TextModel byteFallbackBpe(JsonNode pre) {
            if (JsonFields.optional(model, "dropout") != null) {
                throw new TokenizerFormatException("model.dropout: BPE dropout is not supported (it makes encoding random)");
            }
            for (String affix : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
                String value = JsonFields.optionalString(model, affix, "model");
                if (value != null && !value.isEmpty()) {
                    throw new TokenizerFormatException("model." + affix + " '" + value
                            + "' is not supported with SentencePiece-style BPE");
                }
            }
            ByteFallbackBpe.Metaspace metaspace = HfComponents.metaspacePreTokenizer(pre);
            int[] byteIds = new int[256];
            java.util.Arrays.fill(byteIds, -1);
            if (JsonFields.bool(model, "byte_fallback", false, "model")) {
                for (int b = 0; b < 256; b++) {
                    Integer id = modelVocab.get(String.format("<0x%02X>", b));
                    byteIds[b] = id == null ? -1 : id;
                }
            }
            String unk = JsonFields.optionalString(model, "unk_token", "model");
            int unkId = -1;
            if (unk != null) {
                Integer id = modelVocab.get(unk);
                if (id == null) {
                    throw new TokenizerFormatException("model.unk_token '" + unk + "' is not in model.vocab");
                }
                unkId = id;
            }
            BpeMergeTable merges = HfComponents.merges(JsonFields.array(model, "merges", "model"), modelVocab);
            return new ByteFallbackBpe(modelVocab, merges, byteIds, unkId,
                    JsonFields.bool(model, "fuse_unk", false, "model"),
                    JsonFields.bool(model, "ignore_merges", false, "model"), metaspace);
        }

        private TextModel wordPiece(JsonNode pre) {
            String preType = pre == null ? "null" : JsonFields.string(pre, "type", "pre_tokenizer");
            if (!preType.equals("BertPreTokenizer")) {
                throw new TokenizerFormatException("pre_tokenizer.type '" + preType
                        + "' is not supported with WordPiece (supported: BertPreTokenizer)");
            }
            String unk = JsonFields.string(model, "unk_token", "model");
            int unkId = vocab.id(unk);
            if (unkId < 0) {
                throw new TokenizerFormatException("model.unk_token '" + unk + "' is not in the vocabulary");
            }
            String prefix = JsonFields.optionalString(model, "continuing_subword_prefix", "model");
            JsonNode max = JsonFields.optional(model, "max_input_chars_per_word");
            int maxChars = max == null ? 100 : JsonFields.integer(max, "model.max_input_chars_per_word");
            return new WordPiece(vocab, prefix == null ? "##" : prefix, unkId, maxChars);
        }

        private SpecialTokenIds specialTokens(PostProcessor post) {
            int bos = configToken("bos_token", post.singlePrefix().length == 1 ? post.singlePrefix()[0]
                    : byName("<|begin_of_text|>", "<s>", "<|endoftext|>"));
            int eos = configToken("eos_token", post.singleSuffix().length == 1 ? post.singleSuffix()[0]
                    : byName("<|end_of_text|>", "</s>", "<|endoftext|>"));
            int eot = byName("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|eot|>");
            String unkName = JsonFields.optionalString(model, "unk_token", "model");
            int unk = configToken("unk_token", unkName == null ? -1 : vocab.id(unkName));
            JsonNode padding = JsonFields.optional(root, "padding");
            int pad = configToken("pad_token", padding != null && padding.get("pad_token") != null
                    && padding.get("pad_token").isTextual() ? vocab.id(padding.get("pad_token").textValue())
                    : byName("[PAD]", "<pad>"));
            int mask = configToken("mask_token", byName("[MASK]", "<mask>"));
            return new SpecialTokenIds(bos, eos, eot, unk, pad, mask);
        }

        /** A token named in tokenizer_config.json (a string or {"content": ...}); the fallback if the key is absent. */
        private int configToken(String key, int fallback) {
            if (config == null || !config.has(key)) {
                return fallback;
            }
            JsonNode n = config.get(key);
            if (n.isNull()) {
                return -1;
            }
            String content = n.isTextual() ? n.textValue() : JsonFields.string(n, "content", "tokenizer_config." + key);
            int id = vocab.id(content);
            if (id < 0) {
                throw new TokenizerFormatException("tokenizer_config." + key + ": '" + content + "' is not in the vocabulary");
            }
            return id;
        }

        private int byName(String... names) {
            for (String name : names) {
                int id = vocab.id(name);
                if (id >= 0) {
                    return id;
                }
            }
            return -1;
        }

        /** transformers' add_bos_token/add_eos_token, for files whose post-processor does not add them. */
        private PostProcessor applyConfigFlags(PostProcessor post, SpecialTokenIds specials) {
            if (config == null) {
                return post;
            }
            boolean addBos = JsonFields.bool(config, "add_bos_token", false, "tokenizer_config")
                    && post.singlePrefix().length == 0;
            boolean addEos = JsonFields.bool(config, "add_eos_token", false, "tokenizer_config")
                    && post.singleSuffix().length == 0;
            if ((addBos && specials.bos() < 0) || (addEos && specials.eos() < 0)) {
                throw new TokenizerFormatException("tokenizer_config: add_" + (addBos ? "bos" : "eos")
                        + "_token is true but the token is not defined");
            }
            if (!addBos && !addEos) {
                return post;
            }
            int[] prefix = addBos ? new int[] {specials.bos()} : post.singlePrefix();
            int[] suffix = addEos ? new int[] {specials.eos()} : post.singleSuffix();
            return new PostProcessor(prefix, suffix, prefix, concat(suffix, prefix), suffix);
        }

        private static int[] concat(int[] a, int[] b) {
            int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, out, a.length, b.length);
            return out;
        }
    }
}
