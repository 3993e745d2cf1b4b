package dev.isthmus.quant.testing;

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
import java.util.Map;

/**
 * Writes a Llama GGUF (stories260K) out as a Hugging Face checkpoint: HF tensor names, each q/k head's rows in
 * HF's half-split order (undoing llama.cpp's permutation), config.json, and a tokenizer.json with the same
 * vocabulary (no merges: these tests compare weights, the tokenizer is checked in llm-core's HfToGgufTest).
 */
public final class StoriesCheckpoint {
    private static final Map<String, String> LAYER_NAMES = Map.of(
            "attn_norm.weight", "input_layernorm.weight", "attn_q.weight", "self_attn.q_proj.weight",
            "attn_k.weight", "self_attn.k_proj.weight", "attn_v.weight", "self_attn.v_proj.weight",
            "attn_output.weight", "self_attn.o_proj.weight", "ffn_norm.weight", "post_attention_layernorm.weight",
            "ffn_gate.weight", "mlp.gate_proj.weight", "ffn_up.weight", "mlp.up_proj.weight",
            "ffn_down.weight", "mlp.down_proj.weight");

    private StoriesCheckpoint() {
    }

    /** Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json into {@code dir}. */
    public static void write(Path gguf, Path dir) throws Exception {
        try (GgufFile file = GgufFile.open(gguf); Arena arena = Arena.ofConfined()) {
            ModelMetadata m = file.modelMetadata();
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (GgufTensorInfo t : file.tensors()) {
                float[] values = file.tensor(t.name()).toFloatArray();
                if (t.name().endsWith("attn_q.weight")) {
                    values = toHalfSplit(values, t.shape(), m.headCount());
                } else if (t.name().endsWith("attn_k.weight")) {
                    values = toHalfSplit(values, t.shape(), m.headCountKv());
                }
                MemorySegment data = arena.allocate(4L * values.length);
                MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
                w.add(hfName(t.name()), SafetensorsDType.F32, t.shape(), data);
            }
            w.write(dir.resolve("model.safetensors"));
            Files.writeString(dir.resolve("config.json"), """
                    {"model_type": "llama", "hidden_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                     "num_key_value_heads": %d, "intermediate_size": %d, "max_position_embeddings": %d,
                     "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}
                    """.formatted(m.embeddingLength(), m.blockCount(), m.headCount(), m.headCountKv(),
                    m.feedForwardLength(), m.contextLength()));
            String[] tokens = (String[]) ((GgufArray) file.value("tokenizer.ggml.tokens").orElseThrow().value()).elements();
            StringBuilder vocab = new StringBuilder();
            for (int id = 0; id < tokens.length; id++) {
                vocab.append(id == 0 ? "" : ", ").append('"').append(escape(tokens[id])).append("\": ").append(id);
            }
            Files.writeString(dir.resolve("tokenizer.json"), """
                    {"added_tokens": [
                       {"id": 0, "content": "<unk>", "special": true, "normalized": false},
                       {"id": 1, "content": "<s>", "special": true, "normalized": false},
                       {"id": 2, "content": "</s>", "special": true, "normalized": false}],
                     "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                       {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                     "pre_tokenizer": null,
                     "decoder": {"type": "Sequence", "decoders": [
                       {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
                       {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                     "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
                       "vocab": {%s}, "merges": []}}
                    """.formatted(vocab));
            Files.writeString(dir.resolve("tokenizer_config.json"), """
                    {"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                     "pad_token": "<unk>"}
                    """);
        }
    }

    private static String hfName(String gguf) {
        return switch (gguf) {
            case "token_embd.weight" -> "model.embed_tokens.weight";
            case "output_norm.weight" -> "model.norm.weight";
            case "output.weight" -> "lm_head.weight";
            default -> {
                String[] p = gguf.split("\\.", 3);
                yield "model.layers." + p[1] + "." + LAYER_NAMES.get(p[2]);
            }
        };
    }

    /** GGUF row {@code h*hd + 2j + a} is HF row {@code h*hd + a*hd/2 + j}. */
    private static float[] toHalfSplit(float[] gguf, long[] shape, int heads) {
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        int hd = rows / heads;
        float[] out = new float[gguf.length];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hd / 2; j++) {
                for (int a = 0; a < 2; a++) {
                    System.arraycopy(gguf, (h * hd + 2 * j + a) * cols, out, (h * hd + a * (hd / 2) + j) * cols, cols);
                }
            }
        }
        return out;
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
