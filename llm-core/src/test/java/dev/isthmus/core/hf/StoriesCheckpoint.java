package dev.isthmus.core.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.core.gguf.GgufArray;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.ModelMetadata;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a Llama GGUF out as the Hugging Face checkpoint it was converted from: HF tensor names, each q/k head's
 * rows in HF's half-split order (the inverse of llama.cpp's permutation, checked against llama.cpp's greedy ids
 * by {@link HfCheckpointTest}), config.json, and a Llama-2-style tokenizer.json whose merges are derived from
 * the SentencePiece scores as transformers' {@code SentencePieceExtractor} derives them.
 */
final class StoriesCheckpoint {
    static final String CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
    private static final ObjectMapper JSON = new ObjectMapper();

    private StoriesCheckpoint() {
    }

    /** Writes {@code gguf} as config.json, model.safetensors, tokenizer.json and tokenizer_config.json in {@code dir}. */
    static void write(Path gguf, Path dir) throws Exception {
        try (GgufFile file = GgufFile.open(gguf); Arena arena = Arena.ofConfined()) {
            ModelMetadata m = file.modelMetadata();
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (GgufTensorInfo t : file.tensors()) {
                float[] values = file.tensor(t.name()).toFloatArray();
                if (t.name().endsWith("attn_q.weight")) {
                    values = HfCheckpointTest.toHalfSplit(values, t.shape(), m.headCount());
                } else if (t.name().endsWith("attn_k.weight")) {
                    values = HfCheckpointTest.toHalfSplit(values, t.shape(), m.headCountKv());
                }
                MemorySegment data = arena.allocate(4L * values.length);
                MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
                w.add(HfCheckpoint.hfName(t.name()), SafetensorsDType.F32, t.shape(), data);
            }
            w.write(dir.resolve("model.safetensors"));
            Files.writeString(dir.resolve("config.json"), """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d,
                     "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d,
                     "intermediate_size": %d, "max_position_embeddings": %d, "rms_norm_eps": 1e-5,
                     "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "float32"}
                    """.formatted(m.embeddingLength(), m.blockCount(), m.headCount(), m.headCountKv(),
                    m.feedForwardLength(), m.contextLength()));
            writeTokenizer(file, dir);
        }
    }

    private static void writeTokenizer(GgufFile file, Path dir) throws Exception {
        String[] tokens = (String[]) ((GgufArray) file.value("tokenizer.ggml.tokens").orElseThrow().value()).elements();
        float[] scores = (float[]) ((GgufArray) file.value("tokenizer.ggml.scores").orElseThrow().value()).elements();
        int[] types = (int[]) ((GgufArray) file.value("tokenizer.ggml.token_type").orElseThrow().value()).elements();
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) {
            ids.put(tokens[i], i);
        }
        // SentencePieceExtractor: every split of a piece into two pieces, grouped by ids, then by the piece's score
        record Merge(String left, String right, float score) {
        }
        List<Merge> merges = new ArrayList<>();
        for (int id = 0; id < tokens.length; id++) {
            if (types[id] != 1) {
                continue;
            }
            String piece = tokens[id];
            List<Merge> local = new ArrayList<>();
            for (int at = piece.offsetByCodePoints(0, 1); at < piece.length(); at = piece.offsetByCodePoints(at, 1)) {
                String l = piece.substring(0, at);
                String r = piece.substring(at);
                if (ids.containsKey(l) && ids.containsKey(r) && types[ids.get(l)] == 1 && types[ids.get(r)] == 1) {
                    local.add(new Merge(l, r, scores[id]));
                }
            }
            local.sort(Comparator.<Merge>comparingInt(x -> ids.get(x.left)).thenComparingInt(x -> ids.get(x.right)));
            merges.addAll(local);
        }
        merges.sort(Comparator.comparingDouble(x -> -x.score));

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < tokens.length; id++) {
            if (types[id] == 2 || types[id] == 3) {
                added.addObject().put("id", id).put("content", tokens[id]).put("single_word", false)
                        .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode steps = normalizer.putArray("normalizers");
        steps.addObject().put("type", "Prepend").put("prepend", "\u2581");
        steps.addObject().put("type", "Replace").put("content", "\u2581").putObject("pattern").put("String", " ");
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>").put("id", "<s>");
        bos.putArray("ids").add(ids.get("<s>"));
        bos.putArray("tokens").add("<s>");
        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        decoders.addObject().put("type", "Replace").put("content", " ").putObject("pattern").put("String", "\u2581");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model").put("type", "BPE").put("unk_token", "<unk>")
                .put("fuse_unk", true).put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < tokens.length; id++) {
            vocab.put(tokens[id], id);
        }
        ArrayNode mergeList = model.putArray("merges");
        merges.forEach(x -> mergeList.add(x.left + " " + x.right));
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(root));

        ObjectNode config = JSON.createObjectNode().put("add_bos_token", true).put("add_eos_token", false)
                .put("bos_token", "<s>").put("eos_token", "</s>").put("unk_token", "<unk>").put("pad_token", "<unk>")
                .put("chat_template", CHAT_TEMPLATE);
        Files.writeString(dir.resolve("tokenizer_config.json"), JSON.writeValueAsString(config));
    }
}
