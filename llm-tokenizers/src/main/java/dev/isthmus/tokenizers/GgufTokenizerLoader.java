package dev.isthmus.tokenizers;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a tokenizer from a GGUF file's {@code tokenizer.ggml.*} metadata, tokenizing as llama.cpp does.
 * The GGUF reader lives elsewhere (llm-core); this class only needs the decoded key/value map.
 *
 * <pre>{@code
 * try (GgufFile gguf = GgufFile.open(path)) {
 *     Tokenizer tok = GgufTokenizerLoader.fromMetadata(gguf.metadata());
 * }
 * }</pre>
 *
 * <p>Values are {@link String}, {@link Boolean}, any boxed {@link Number}, and arrays as {@link List} of those.
 * {@code tokenizer.ggml.model}: {@code llama} (SentencePiece BPE), {@code gpt2} (byte-level BPE, with
 * {@code tokenizer.ggml.pre} one of {@code default}/{@code gpt-2}-like, {@code llama-bpe}/{@code llama3}-like or
 * {@code qwen2}-like), {@code bert} (WordPiece). Token types: 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte. Control and unknown tokens are parsed only with
 * {@link EncodeOptions#parseSpecialTokens()}; user-defined tokens always, as in llama.cpp.
 */
public final class GgufTokenizerLoader {
    private static final String P = "tokenizer.ggml.";
    private static final int NORMAL = GgufTokenAttributes.NORMAL;
    private static final int UNKNOWN = GgufTokenAttributes.UNKNOWN;
    private static final int CONTROL = GgufTokenAttributes.CONTROL;
    private static final int USER_DEFINED = GgufTokenAttributes.USER_DEFINED;
    private static final int UNUSED = GgufTokenAttributes.UNUSED;
    private static final int BYTE = GgufTokenAttributes.BYTE;

    private GgufTokenizerLoader() {
    }

    /**
     * @throws TokenizerFormatException naming the key when metadata is missing, mistyped or unsupported
     */
    public static Tokenizer fromMetadata(Map<String, ?> metadata) {
        String model = string(metadata, P + "model");
        List<String> tokens = stringList(metadata, P + "tokens");
        if (tokens.isEmpty() || tokens.size() > HuggingFaceTokenizerLoader.MAX_VOCABULARY_SIZE) {
            throw new TokenizerFormatException(P + "tokens: " + tokens.size() + " tokens is not a usable vocabulary");
        }
        int[] types = tokenTypes(metadata, tokens.size());
        Map<String, Integer> specialIds = new HashMap<>();
        for (String key : GgufTokenAttributes.ID_KEYS) {
            int id = id(metadata, key, -1, tokens.size());
            if (id >= 0) {
                specialIds.put(key, id);
            }
        }
        if ("bert".equals(model) || "llama".equals(model)) {
            // llama.cpp's built-in EOS for these models when the metadata names none
            specialIds.putIfAbsent("eos_token_id", "llama".equals(model) ? 2 : -1);
        }
        GgufTokenAttributes attrs = GgufTokenAttributes.of(metadata, tokens.toArray(String[]::new), types, specialIds);
        return switch (model) {
            case "llama" -> sentencePiece(metadata, tokens, types, attrs);
            case "gpt2" -> byteLevel(metadata, tokens, types, attrs);
            case "bert" -> wordPiece(metadata, tokens, types, attrs);
            default -> throw new TokenizerFormatException(P + "model '" + model
                    + "' is not supported (supported: llama, gpt2, bert)");
        };
    }

    private static Tokenizer sentencePiece(Map<String, ?> md, List<String> tokens, int[] types,
                                           GgufTokenAttributes attrs) {
        Vocabulary vocab = new Vocabulary(tokens.toArray(String[]::new), attrs.control);
        float[] scores = floatList(md, P + "scores", tokens.size());
        int unk = id(md, "unknown_token_id", 0, tokens.size());
        int bos = id(md, "bos_token_id", 1, tokens.size());
        int eos = id(md, "eos_token_id", 2, tokens.size());
        boolean addSpacePrefix = bool(md, P + "add_space_prefix", true);
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocab.id(String.format("<0x%02X>", b));
        }
        byte[][] pieces = new byte[tokens.size()][];
        byte[][] first = new byte[tokens.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String t = tokens.get(id);
            pieces[id] = switch (types[id]) {
                case BYTE -> new byte[] {(byte) parseByteToken(t, id)};
                case UNUSED -> new byte[0];
                case CONTROL, UNKNOWN, USER_DEFINED -> t.getBytes(StandardCharsets.UTF_8);
                default -> t.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
            };
            if (addSpacePrefix && types[id] == NORMAL && pieces[id].length > 0 && pieces[id][0] == ' ') {
                first[id] = java.util.Arrays.copyOfRange(pieces[id], 1, pieces[id].length);
            }
        }
        TextModel model = new SentencePieceBpe(vocab, scores, byteIds, unk, addSpacePrefix);
        return assemble("SentencePiece BPE", md, vocab, attrs, model, new PieceTable(pieces, first), bos, eos,
                unk, true, false, false);
    }

    private static Tokenizer byteLevel(Map<String, ?> md, List<String> tokens, int[] types,
                                       GgufTokenAttributes attrs) {
        String pre = md.containsKey(P + "pre") ? string(md, P + "pre") : "(missing)";
        PreTokenizer preTokenizer;
        boolean ignoreMerges = false;
        boolean addBosDefault = false;
        // llama.cpp's pre-tokenizer names whose split is one of the three scanners, with its flags for them.
        switch (pre) {
            case "gpt-2", "phi-2", "gigachat", "a.x-4.0", "mellum", "mpt", "olmo" -> preTokenizer = new Gpt2PreTokenizer();
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2" -> {
                preTokenizer = new Llama3PreTokenizer(3);
                ignoreMerges = true;
                addBosDefault = true;
            }
            case "dbrx", "smaug-bpe" -> preTokenizer = new Llama3PreTokenizer(3);
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" ->
                    preTokenizer = new DigitIsolatingPreTokenizer();
            case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez" -> preTokenizer = new Llama3PreTokenizer(1);
            default -> throw new TokenizerFormatException(P + "pre '" + pre
                    + "' is not supported (supported: gpt-2, llama-bpe/llama3, qwen2, smollm/starcoder and the names llama.cpp treats alike)");
        }
        Vocabulary vocab = new Vocabulary(tokens.toArray(String[]::new), attrs.control);
        Map<String, Integer> ids = new HashMap<>(tokens.size() * 2);
        for (int id = 0; id < tokens.size(); id++) {
            ids.putIfAbsent(tokens.get(id), id);
        }
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.valueOf(ByteLevelAlphabet.charOf(b)));
            if (id == null) {
                throw new TokenizerFormatException(String.format("%stokens: no token for byte 0x%02X ('%s')", P, b,
                        ByteLevelAlphabet.charOf(b)));
            }
            byteIds[b] = id;
        }
        BpeMergeTable merges = merges(stringList(md, P + "merges"), ids);
        byte[][] pieces = new byte[tokens.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String t = tokens.get(id);
            byte[] bytes = types[id] == NORMAL ? ByteLevelAlphabet.decode(t) : null;
            pieces[id] = bytes != null ? bytes : t.getBytes(StandardCharsets.UTF_8);
        }
        TextModel model = new ByteLevelBpe(preTokenizer, false, byteIds, merges, ignoreMerges ? ids : null);
        int bos = id(md, "bos_token_id", -1, tokens.size());
        int eos = id(md, "eos_token_id", -1, tokens.size());
        return assemble("byte-level BPE (" + pre + ")", md, vocab, attrs, model, new PieceTable(pieces, null),
                bos, eos, id(md, "unknown_token_id", -1, tokens.size()), addBosDefault, false, true);
    }

    private static Tokenizer wordPiece(Map<String, ?> md, List<String> tokens, int[] types, GgufTokenAttributes attrs) {
        Vocabulary vocab = new Vocabulary(tokens.toArray(String[]::new), attrs.control);
        int n = tokens.size();
        int unk = id(md, "unknown_token_id", 100, n);
        int cls = id(md, "bos_token_id", 101, n);
        int sep = id(md, "seperator_token_id", 102, n);
        boolean lowercase = bool(md, P + "normalizer.lowercase", true);
        boolean stripAccents = bool(md, P + "normalizer.strip_accents", lowercase);
        // Word-initial pieces are stored as "▁word": they decode with a space before them, except first.
        byte[][] pieces = new byte[n][];
        byte[][] first = new byte[n][];
        for (int id = 0; id < n; id++) {
            String t = tokens.get(id);
            if (types[id] == NORMAL) {
                pieces[id] = t.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
                if (t.startsWith("\u2581")) {
                    first[id] = t.substring(1).replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
                }
            } else {
                pieces[id] = t.getBytes(StandardCharsets.UTF_8);
            }
        }
        TextModel model = new LlamaCppWordPiece(vocab, unk, lowercase, stripAccents);
        return assemble("WordPiece", md, vocab, attrs, model, new PieceTable(pieces, first), cls, sep, unk,
                true, true, false);
    }


    private static Tokenizer assemble(String kind, Map<String, ?> md, Vocabulary vocab, GgufTokenAttributes attrs,
                                      TextModel model,
                                      PieceTable pieces, int bos, int eos, int unk, boolean addBosDefault,
                                      boolean addEosDefault, boolean lossless) {
        int n = vocab.size();
        // llama.cpp's WordPiece always brackets with [CLS] ... [SEP] when special tokens are added.
        boolean wordPiece = model instanceof LlamaCppWordPiece;
        boolean addBos = wordPiece || bool(md, P + "add_bos_token", addBosDefault);
        boolean addEos = wordPiece || bool(md, P + "add_eos_token", addEosDefault);
        if ((addBos && bos < 0) || (addEos && eos < 0)) {
            throw new TokenizerFormatException(P + "add_" + (addBos && bos < 0 ? "bos" : "eos")
                    + "_token is true but the token id is missing");
        }
        List<AddedToken> added = new ArrayList<>();
        for (int id = 0; id < n; id++) {
            if (attrs.matched[id]) {
                added.add(new AddedToken(vocab.token(id), id, attrs.onRequest[id], attrs.lstrip[id], attrs.rstrip[id],
                        false));
            }
        }
        int eot = attrs.endOfTurn;
        SpecialTokenIds specials = new SpecialTokenIds(bos, eos, eot, unk, id(md, "padding_token_id", -1, n),
                id(md, "mask_token_id", -1, n));
        PostProcessor post = PostProcessor.bosEos(addBos ? bos : -1, addEos ? eos : -1);
        return new Tokenizer(new TokenizerSpec(kind, vocab, model, null, new AddedTokenMatcher(added, true),
                new AddedTokenMatcher(List.of()), post, specials, pieces, lossless, attrs.endOfGeneration));
    }

    private static int parseByteToken(String t, int id) {
        if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
            try {
                return Integer.parseInt(t.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new TokenizerFormatException(P + "tokens[" + id + "]: byte token '" + t + "' is not of the form <0xNN>");
    }

    private static BpeMergeTable merges(List<String> merges, Map<String, Integer> ids) {
        int n = merges.size();
        int[] left = new int[n];
        int[] right = new int[n];
        int[] result = new int[n];
        for (int r = 0; r < n; r++) {
            String m = merges.get(r);
            int space = m.indexOf(' ', 1);
            if (space < 0) {
                throw new TokenizerFormatException(P + "merges[" + r + "]: '" + m + "' is not two tokens separated by a space");
            }
            left[r] = mergeToken(ids, m.substring(0, space), r);
            right[r] = mergeToken(ids, m.substring(space + 1), r);
            result[r] = mergeToken(ids, m.substring(0, space) + m.substring(space + 1), r);
        }
        return BpeMergeTable.of(left, right, result);
    }

    private static int mergeToken(Map<String, Integer> ids, String token, int rank) {
        Integer id = ids.get(token);
        if (id == null) {
            throw new TokenizerFormatException(P + "merges[" + rank + "]: token '" + token + "' is not in " + P + "tokens");
        }
        return id;
    }

    private static int[] tokenTypes(Map<String, ?> md, int n) {
        int[] types = new int[n];
        java.util.Arrays.fill(types, NORMAL);
        Object value = md.get(P + "token_type");
        if (value == null) {
            return types;
        }
        List<?> list = list(md, P + "token_type");
        if (list.size() != n) {
            throw new TokenizerFormatException(P + "token_type: " + list.size() + " entries for " + n + " tokens");
        }
        for (int i = 0; i < n; i++) {
            types[i] = (int) number(list.get(i), P + "token_type[" + i + "]");
        }
        return types;
    }

    private static int id(Map<String, ?> md, String key, int fallback, int vocabSize) {
        Object v = md.get(P + key);
        if (v == null) {
            return fallback;
        }
        long id = number(v, P + key);
        if (id == -1 || id == 0xFFFFFFFFL) {
            return -1; // llama.cpp's "none"
        }
        if (id < 0 || id >= vocabSize) {
            throw new TokenizerFormatException(P + key + ": id " + id + " is outside the vocabulary of " + vocabSize);
        }
        return (int) id;
    }

    private static String string(Map<String, ?> md, String key) {
        Object v = md.get(key);
        if (!(v instanceof String s)) {
            throw new TokenizerFormatException(key + ": expected a string, found " + describe(v));
        }
        return s;
    }

    private static boolean bool(Map<String, ?> md, String key, boolean fallback) {
        Object v = md.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Boolean b)) {
            throw new TokenizerFormatException(key + ": expected a boolean, found " + describe(v));
        }
        return b;
    }

    private static List<?> list(Map<String, ?> md, String key) {
        Object v = md.get(key);
        if (!(v instanceof List<?> l)) {
            throw new TokenizerFormatException(key + ": expected an array, found " + describe(v));
        }
        return l;
    }

    private static List<String> stringList(Map<String, ?> md, String key) {
        List<?> l = list(md, key);
        List<String> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String s)) {
                throw new TokenizerFormatException(key + "[" + i + "]: expected a string, found " + describe(l.get(i)));
            }
            out.add(s);
        }
        return out;
    }

    private static float[] floatList(Map<String, ?> md, String key, int n) {
        List<?> l = list(md, key);
        if (l.size() != n) {
            throw new TokenizerFormatException(key + ": " + l.size() + " entries for " + n + " tokens");
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            if (!(l.get(i) instanceof Number num)) {
                throw new TokenizerFormatException(key + "[" + i + "]: expected a number, found " + describe(l.get(i)));
            }
            out[i] = num.floatValue();
        }
        return out;
    }

    private static long number(Object v, String key) {
        if (!(v instanceof Number num) || num.doubleValue() != Math.rint(num.doubleValue())) {
            throw new TokenizerFormatException(key + ": expected an integer, found " + describe(v));
        }
        return num.longValue();
    }

    private static String describe(Object v) {
        if (v == null) {
            return "nothing";
        }
        String s = String.valueOf(v);
        return v.getClass().getSimpleName() + " " + (s.length() > 40 ? s.substring(0, 40) + "..." : s);
    }
}
