package dev.isthmus.tokenizers;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Which GGUF tokens are control tokens and which strip neighbouring whitespace, decided as llama.cpp
 * decides at load time: besides the stored token types, tokens whose text marks end of generation or
 * fill-in-the-middle are promoted to control (converters often store them as normal or user-defined), and a
 * few model names switch on lstrip/rstrip. Control tokens are only parsed from text on request.
 */
final class GgufTokenAttributes {
    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    /** Promoted whenever present (llama.cpp's end-of-generation list). */
    private static final Set<String> END_OF_GENERATION = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
            "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
            "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
            "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[");
    /** Promoted when the matching id is not in the metadata (llama.cpp looks them up by text then). */
    private static final Map<String, List<String>> BY_MISSING_ID = Map.of(
            "eot_token_id", List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"),
            "eom_token_id", List.of("<|eom_id|>"),
            "fim_pre_token_id", List.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                    "▁<PRE>", "<|code_prefix|>", "<|prefix|>"),
            "fim_suf_token_id", List.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                    "▁<SUF>", "<|code_suffix|>", "<|suffix|>"),
            "fim_mid_token_id", List.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                    "▁<MID>", "<|code_middle|>", "<|middle|>"),
            "fim_pad_token_id", List.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"),
            "fim_rep_token_id", List.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"),
            "fim_sep_token_id", List.of("<|file_sep|>"));

    final boolean[] control;
    /** Cut out of text before the model runs (control, user-defined and unknown tokens). */
    final boolean[] matched;
    /** Cut out only when special tokens are parsed (control and unknown tokens). */
    final boolean[] onRequest;
    final boolean[] lstrip;
    final boolean[] rstrip;
    final int endOfTurn;
    /** Ids at which llama.cpp stops generating (its {@code special_eog_ids}), ascending. */
    final int[] endOfGeneration;

    private GgufTokenAttributes(boolean[] control, boolean[] matched, boolean[] onRequest, boolean[] lstrip,
                                boolean[] rstrip, int eot, int[] endOfGeneration) {
        this.control = control;
        this.matched = matched;
        this.onRequest = onRequest;
        this.lstrip = lstrip;
        this.rstrip = rstrip;
        this.endOfTurn = eot;
        this.endOfGeneration = endOfGeneration;
    }

    /** Metadata keys (after {@code tokenizer.ggml.}) whose ids take part in the end-of-generation set. */
    static final List<String> ID_KEYS = List.of("eos_token_id", "eot_token_id", "eom_token_id", "fim_pre_token_id",
            "fim_suf_token_id", "fim_mid_token_id", "fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id");

    /**
     * @param metadataIds the ids of {@link #ID_KEYS} found in the metadata (absent keys are missing)
     */
    static GgufTokenAttributes of(Map<String, ?> md, String[] tokens, int[] types, Map<String, Integer> metadataIds) {
        int n = tokens.length;
        boolean[] control = new boolean[n];
        boolean[] userDefined = new boolean[n];
        boolean[] unknown = new boolean[n];
        Map<String, Integer> ids = new HashMap<>();
        for (int id = 0; id < n; id++) {
            control[id] = types[id] == CONTROL;
            userDefined[id] = types[id] == USER_DEFINED;
            unknown[id] = types[id] == UNKNOWN;
            ids.putIfAbsent(tokens[id], id);
        }
        Map<String, Integer> special = new HashMap<>(metadataIds);
        for (Map.Entry<String, List<String>> e : BY_MISSING_ID.entrySet()) {
            if (md.get("tokenizer.ggml." + e.getKey()) != null) {
                continue;
            }
            for (String text : e.getValue()) {
                Integer id = ids.get(text);
                if (id != null) {
                    control[id] = true;
                    special.put(e.getKey(), id);
                    break;
                }
            }
        }
        Set<Integer> eog = new java.util.TreeSet<>();
        for (String key : List.of("fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id")) {
            addIfPresent(eog, special.get(key));
        }
        for (String text : END_OF_GENERATION) {
            Integer id = ids.get(text);
            if (id != null) {
                control[id] = true;
                eog.add(id);
            }
        }
        for (String text : new String[] {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
            Integer id = ids.get(text); // gpt-oss: always rendered and parsed
            if (id != null) {
                control[id] = false;
                userDefined[id] = true;
                unknown[id] = false;
            }
        }
        for (String key : List.of("eos_token_id", "eot_token_id", "eom_token_id")) {
            addIfPresent(eog, special.get(key));
        }
        // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
        Integer end = ids.get("<|end|>");
        if (end != null && eog.contains(end) && ((has(ids, eog, "<|return|>") && has(ids, eog, "<|call|>"))
                || (has(ids, eog, "<|calls|>") && has(ids, eog, "<|flush|>")))) {
            eog.remove(end);
            control[end] = false;
            userDefined[end] = true;
            unknown[end] = false;
        }
        // gemma4 / paddleocr: "</s>" is an ordinary token there.
        Integer closeS = ids.get("</s>");
        if (closeS != null && eog.contains(closeS) && has(ids, eog, "<|tool_response>")) {
            eog.remove(closeS);
            control[closeS] = false;
            userDefined[closeS] = false;
            unknown[closeS] = false;
        }
        boolean[] matched = new boolean[n];
        boolean[] onRequest = new boolean[n];
        for (int id = 0; id < n; id++) {
            matched[id] = !tokens[id].isEmpty() && (control[id] || userDefined[id] || unknown[id]);
            onRequest[id] = control[id] || unknown[id];
        }
        boolean[] lstrip = new boolean[n];
        boolean[] rstrip = new boolean[n];
        String name = md.get("general.name") instanceof String s ? s.toLowerCase(Locale.ROOT) : "";
        String pre = md.get("tokenizer.ggml.pre") instanceof String s ? s : "";
        String arch = md.get("general.architecture") instanceof String s ? s : "";
        if (pre.contains("jina-v2-de") || pre.contains("jina-v2-es") || pre.contains("jina-v2-code")
                || arch.contains("nomic-bert-moe") || arch.contains("jina-bert-v3")) {
            set(lstrip, ids, "<mask>", true);
        } else if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id = 0; id < n; id++) {
                rstrip[id] = matched[id];
            }
            set(rstrip, ids, "</s>", true);
            for (String text : new String[] {"<unk>", "<s>", "<|endoftext|>"}) {
                set(rstrip, ids, text, false);
            }
        } else if (name.contains("modern-bert")) {
            set(lstrip, ids, "[MASK]", true);
        }
        int eot = special.getOrDefault("eot_token_id", -1);
        return new GgufTokenAttributes(control, matched, onRequest, lstrip, rstrip, eot,
                eog.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void addIfPresent(Set<Integer> set, Integer id) {
        if (id != null && id >= 0) {
            set.add(id);
        }
    }

    private static boolean has(Map<String, Integer> ids, Set<Integer> eog, String text) {
        Integer id = ids.get(text);
        return id != null && eog.contains(id);
    }

    private static void set(boolean[] flags, Map<String, Integer> ids, String text, boolean value) {
        Integer id = ids.get(text);
        if (id != null) {
            flags[id] = value;
        }
    }
}
