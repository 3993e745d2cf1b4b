package dev.isthmus.core.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.gguf.GgufArray;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufValueType;
import dev.isthmus.tokenizers.HuggingFaceTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * The {@code tokenizer.ggml.*} metadata for a Hugging Face {@code tokenizer.json}, as llama.cpp's
 * {@code convert_hf_to_gguf.py} lays it out: byte-level BPE becomes model {@code gpt2} (tokens, token types,
 * merges, a {@code pre} name), SentencePiece-style BPE becomes model {@code llama} (tokens, scores, token
 * types). The file is first loaded with {@link HuggingFaceTokenizerLoader}, so whatever it refuses is refused
 * here too, and the special ids and add-BOS/EOS flags are the ones that loader encodes with.
 *
 * <p>Scores of a {@code llama} vocabulary: a tokenizer.json carries merge ranks, not SentencePiece scores,
 * and llama.cpp's SentencePiece tokenizer merges the adjacent pair whose result has the highest score. Each
 * token gets minus the rank of the first merge that makes it, so both apply merges in the same order (llama.cpp's
 * converter reads real scores from a tokenizer.model; a checkpoint with only tokenizer.json has none).
 */
final class HfTokenizerMetadata {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String P = "tokenizer.ggml.";
    private static final int NORMAL = 1;
    private static final int UNKNOWN = 2;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int UNUSED = 5;
    private static final int BYTE = 6;
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");

    private HfTokenizerMetadata() {
    }

    /**
     * @param tokenizerConfig tokenizer_config.json, or null
     * @param chatTemplate    a chat_template.jinja file, or null; used when tokenizer_config.json has none
     * @param vocabSize       rows of the embedding table; the vocabulary is padded to it as llama.cpp pads it
     * @throws CheckpointConversionException if the tokenizer has no llama.cpp equivalent
     */
    static Map<String, GgufValue> of(Path tokenizerJson, Path tokenizerConfig, Path chatTemplate, int vocabSize)
            throws IOException {
        Tokenizer tok = HuggingFaceTokenizerLoader.load(tokenizerJson, tokenizerConfig);
        JsonNode root = JSON.readTree(Files.readString(tokenizerJson));
        JsonNode config = tokenizerConfig == null ? null : JSON.readTree(Files.readString(tokenizerConfig));
        JsonNode model = root.path("model");

        Map<Integer, String> byId = new HashMap<>();
        model.path("vocab").properties().forEach(e -> byId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            byId.put(t.path("id").asInt(), t.path("content").asText());
            added.put(t.path("id").asInt(), t);
        }
        int largest = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (largest >= vocabSize) {
            throw new CheckpointConversionException(tokenizerJson + ": token id " + largest + " ('" + byId.get(largest)
                    + "') is beyond the embedding table's " + vocabSize + " rows");
        }
        List<String> merges = merges(model.path("merges"), tokenizerJson);

        Map<String, GgufValue> md = new LinkedHashMap<>();
        String kind = tok.kind();
        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        if (kind.startsWith("byte-level BPE (")) {
            md.put(P + "model", GgufValue.string("gpt2"));
            md.put(P + "pre", GgufValue.string(preName(kind, root, tokenizerJson)));
            for (int id = 0; id < vocabSize; id++) {
                String text = byId.get(id);
                JsonNode a = added.get(id);
                if (text == null) {
                    tokens[id] = "[PAD" + id + "]";
                    types[id] = UNUSED;
                } else if (a != null && (a.path("special").asBoolean(false) || looksSpecial(text))) {
                    tokens[id] = text;
                    types[id] = CONTROL;
                } else if (a != null) {
                    // llama.cpp matches user-defined tokens on raw text, where spaces are still spaces
                    tokens[id] = text.replace('\u2581', ' ');
                    types[id] = USER_DEFINED;
                } else {
                    tokens[id] = text;
                    types[id] = NORMAL;
                }
            }
            md.put(P + "tokens", strings(tokens));
            md.put(P + "token_type", ints(types));
            md.put(P + "merges", strings(merges.toArray(String[]::new)));
        } else if (kind.startsWith("SentencePiece BPE")) {
            String unk = model.path("unk_token").asText(null);
            Map<String, Integer> firstRank = new HashMap<>();
            for (int r = 0; r < merges.size(); r++) {
                String m = merges.get(r);
                int space = m.indexOf(' ', 1);
                firstRank.putIfAbsent(m.substring(0, space) + m.substring(space + 1), r);
            }
            float[] scores = new float[vocabSize];
            md.put(P + "model", GgufValue.string("llama"));
            md.put(P + "pre", GgufValue.string("default"));
            for (int id = 0; id < vocabSize; id++) {
                String text = byId.get(id);
                JsonNode a = added.get(id);
                tokens[id] = text == null ? "[PAD" + id + "]" : text;
                if (text == null) {
                    types[id] = UNUSED;
                } else if (text.equals(unk)) {
                    types[id] = UNKNOWN;
                } else if (a != null && a.path("special").asBoolean(false)) {
                    types[id] = CONTROL;
                } else if (a != null) {
                    types[id] = USER_DEFINED;
                } else if (BYTE_TOKEN.matcher(text).matches()) {
                    types[id] = BYTE;
                } else {
                    types[id] = NORMAL;
                    Integer rank = firstRank.get(text);
                    // a piece no merge makes (single characters) never competes; one that only llama.cpp could
                    // form by concatenation goes last
                    scores[id] = rank != null ? -rank : text.codePointCount(0, text.length()) == 1 ? 0
                            : -(float) merges.size();
                }
            }
            md.put(P + "tokens", strings(tokens));
            md.put(P + "scores", GgufValue.array(new GgufArray(GgufValueType.FLOAT32, scores)));
            md.put(P + "token_type", ints(types));
            md.put(P + "add_space_prefix", GgufValue.bool(addsSpacePrefix(root)));
        } else {
            throw new CheckpointConversionException(tokenizerJson + ": a " + kind + " tokenizer has no llama.cpp"
                    + " decoder vocabulary to convert to (supported: byte-level BPE, SentencePiece-style BPE)");
        }
        putId(md, "bos_token_id", tok.bosTokenId());
        putId(md, "eos_token_id", tok.eosTokenId());
        putId(md, "unknown_token_id", tok.unknownTokenId());
        putId(md, "padding_token_id", tok.paddingTokenId());
        md.put(P + "add_bos_token", GgufValue.bool(tok.addsPrefixToken()));
        md.put(P + "add_eos_token", GgufValue.bool(tok.addsSuffixToken()));
        chatTemplates(config, chatTemplate, md);
        return md;
    }

    /** llama.cpp's name for the pre-tokenizer split the loader recognised. */
    private static String preName(String kind, JsonNode root, Path file) {
        String split = kind.substring("byte-level BPE (".length(), kind.length() - 1);
        if (root.path("pre_tokenizer").toString().contains("\"add_prefix_space\":true")) {
            throw new CheckpointConversionException(file + ": pre_tokenizer ByteLevel add_prefix_space=true has no"
                    + " llama.cpp equivalent");
        }
        return switch (split) {
            case "gpt-2" -> "gpt-2";
            case "llama3" -> "llama-bpe";
            case "qwen2" -> "qwen2";
            default -> throw new CheckpointConversionException(file + ": the pre-tokenizer split (" + split
                    + ") is none of those llama.cpp names (GPT-2, Llama 3, Qwen2 patterns)");
        };
    }

    /** Merges as llama.cpp stores them: "left right", spaces inside a part written as U+0120 (as its converter does). */
    private static List<String> merges(JsonNode merges, Path file) {
        List<String> out = new ArrayList<>(merges.size());
        for (JsonNode m : merges) {
            if (m.isTextual()) {
                out.add(m.textValue());
            } else if (m.isArray() && m.size() == 2) {
                out.add(m.get(0).asText().replace(' ', '\u0120') + " " + m.get(1).asText().replace(' ', '\u0120'));
            } else {
                throw new CheckpointConversionException(file + ": model.merges entry " + m + " is neither \"a b\" nor [a, b]");
            }
        }
        return out;
    }

    /** convert_hf_to_gguf's {@code does_token_look_special}. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<\uFF5C") && t.endsWith("\uFF5C>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }

    /** Whether the normalizer or Metaspace pre-tokenizer puts "▁" before the text (SentencePiece's dummy prefix). */
    private static boolean addsSpacePrefix(JsonNode root) {
        JsonNode normalizer = root.path("normalizer");
        List<JsonNode> steps = new ArrayList<>();
        steps.add(normalizer);
        normalizer.path("normalizers").forEach(steps::add);
        for (JsonNode n : steps) {
            if ("Prepend".equals(n.path("type").asText())) {
                return true;
            }
        }
        JsonNode pre = root.path("pre_tokenizer");
        if ("Metaspace".equals(pre.path("type").asText())) {
            String scheme = pre.path("prepend_scheme").asText(pre.path("add_prefix_space").asBoolean(true) ? "always" : "never");
            return !scheme.equals("never");
        }
        return false;
    }

    private static void chatTemplates(JsonNode config, Path jinja, Map<String, GgufValue> md) throws IOException {
        JsonNode t = config == null ? null : config.get("chat_template");
        if (t != null && t.isTextual()) {
            md.put("tokenizer.chat_template", GgufValue.string(t.textValue()));
        } else if (t != null && t.isArray()) {
            for (JsonNode named : t) {
                String name = named.path("name").asText();
                String key = name.equals("default") ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
                md.put(key, GgufValue.string(named.path("template").asText()));
            }
        } else if (jinja != null) {
            md.put("tokenizer.chat_template", GgufValue.string(Files.readString(jinja)));
        }
    }

    private static void putId(Map<String, GgufValue> md, String key, OptionalInt id) {
        if (id.isPresent()) {
            md.put(P + key, GgufValue.uint32(id.getAsInt()));
        }
    }

    private static GgufValue strings(String[] values) {
        return GgufValue.array(new GgufArray(GgufValueType.STRING, values));
    }

    private static GgufValue ints(int[] values) {
        return GgufValue.array(new GgufArray(GgufValueType.INT32, values));
    }
}
