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
    private static final int NORMAL = 1;
    private static final int UNKNOWN = 2;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int UNUSED = 5;
    private static final int BYTE = 6;

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
        return switch (model) {
            case "llama" -> sentencePiece(metadata, tokens, types);
            case "gpt2" -> byteLevel(metadata, tokens, types);
            case "bert" -> wordPiece(metadata, tokens, types);
            default -> throw new TokenizerFormatException(P + "model '" + model
                    + "' is not supported (supported: llama, gpt2, bert)");
        };
    }

    private static Tokenizer sentencePiece(Map<String, ?> md, List<String> tokens, int[] types) {
        Vocabulary vocab = vocabulary(tokens.toArray(String[]::new), types);
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
        return assemble("SentencePiece BPE", md, vocab, types, model, new PieceTable(pieces, first), bos, eos,
                unk, true, false, false);
    }

    private static Tokenizer byteLevel(Map<String, ?> md, List<String> tokens, int[] types) {
        String pre = md.containsKey(P + "pre") ? string(md, P + "pre") : "default";
        PreTokenizer preTokenizer;
        boolean ignoreMerges = false;
        boolean addBosDefault = false;
        switch (pre) {
            case "default", "gpt-2", "phi-2", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                 "jina-v2-code", "roberta-bpe", "gigachat" -> preTokenizer = new Gpt2PreTokenizer();
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe" -> {
                preTokenizer = new Llama3PreTokenizer(3);
                ignoreMerges = true;
                addBosDefault = true;
            }
            case "qwen2", "deepseek-r1-qwen", "megrez" -> preTokenizer = new Llama3PreTokenizer(1);
            default -> throw new TokenizerFormatException(P + "pre '" + pre
                    + "' is not supported (supported: gpt-2, llama-bpe/llama3, qwen2 and their aliases)");
        }
        Vocabulary vocab = vocabulary(tokens.toArray(String[]::new), types);
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
        return assemble("byte-level BPE (" + pre + ")", md, vocab, types, model, new PieceTable(pieces, null),
                bos, eos, id(md, "unknown_token_id", -1, tokens.size()), addBosDefault, false, true);
    }

    private static Tokenizer wordPiece(Map<String, ?> md, List<String> tokens, int[] types) {
        // llama.cpp's converter spells word-initial pieces with a leading '▁' and drops '##'; undo that.
        String[] spelled = new String[tokens.size()];
        for (int id = 0; id < spelled.length; id++) {
            String t = tokens.get(id);
            if (t.startsWith("\u2581")) {
                spelled[id] = t.substring(1);
            } else if (types[id] != NORMAL || (t.startsWith("[") && t.endsWith("]"))) {
                spelled[id] = t;
            } else {
                spelled[id] = "##" + t;
            }
        }
        Vocabulary vocab = vocabulary(spelled, types);
        int unk = id(md, "unknown_token_id", vocab.id("[UNK]"), tokens.size());
        if (unk < 0) {
            throw new TokenizerFormatException(P + "unknown_token_id: missing, and there is no [UNK] token");
        }
        int cls = id(md, "cls_token_id", id(md, "bos_token_id", -1, tokens.size()), tokens.size());
        int sep = id(md, "seperator_token_id", id(md, "eos_token_id", -1, tokens.size()), tokens.size());
        TextModel words = new WordPiece(vocab, "##", unk, 100);
        TextModel model = (text, from, to, afterSpecial, out) -> {
            String normalized = BERT_NORMALIZER.normalize(text.substring(from, to));
            if (!normalized.isEmpty()) {
                words.encode(normalized, 0, normalized.length(), afterSpecial, out);
            }
        };
        return assemble("WordPiece", md, vocab, types, model, HfComponents.wordPiecePieces(vocab, "##", true),
                cls, sep, unk, true, true, false);
    }

    private static final TextNormalizer BERT_NORMALIZER = new BertNormalizer(true, true, true, true);

    private static Tokenizer assemble(String kind, Map<String, ?> md, Vocabulary vocab, int[] types, TextModel model,
                                      PieceTable pieces, int bos, int eos, int unk, boolean addBosDefault,
                                      boolean addEosDefault, boolean lossless) {
        int n = types.length;
        boolean addBos = bool(md, P + "add_bos_token", addBosDefault);
        boolean addEos = bool(md, P + "add_eos_token", addEosDefault);
        if ((addBos && bos < 0) || (addEos && eos < 0)) {
            throw new TokenizerFormatException(P + "add_" + (addBos && bos < 0 ? "bos" : "eos")
                    + "_token is true but the token id is missing");
        }
        List<AddedToken> added = new ArrayList<>();
        for (int id = 0; id < n; id++) {
            int t = types[id];
            String text = vocab.token(id);
            if ((t == CONTROL || t == UNKNOWN || t == USER_DEFINED) && !text.isEmpty()) {
                added.add(AddedToken.plain(text, id, t != USER_DEFINED));
            }
        }
        int eot = id(md, "eot_token_id", -1, n);
        if (eot < 0) {
            for (String name : new String[] {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"}) {
                int id = vocab.id(name);
                if (id >= 0 && types[id] == CONTROL) {
                    eot = id;
                    break;
                }
            }
        }
        SpecialTokenIds specials = new SpecialTokenIds(bos, eos, eot, unk, id(md, "padding_token_id", -1, n),
                id(md, "mask_token_id", -1, n));
        PostProcessor post = PostProcessor.bosEos(addBos ? bos : -1, addEos ? eos : -1);
        return new Tokenizer(new TokenizerSpec(kind, vocab, model, null, new AddedTokenMatcher(added),
                new AddedTokenMatcher(List.of()), post, specials, pieces, lossless));
    }

    private static Vocabulary vocabulary(String[] tokens, int[] types) {
        boolean[] special = new boolean[tokens.length];
        for (int id = 0; id < tokens.length; id++) {
            special[id] = types[id] == CONTROL;
        }
        return new Vocabulary(tokens, special);
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
