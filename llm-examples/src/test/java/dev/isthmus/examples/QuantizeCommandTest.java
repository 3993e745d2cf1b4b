package dev.isthmus.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import dev.isthmus.core.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus quantize IN OUT TYPE} from a GGUF file and from a Hugging Face checkpoint. */
class QuantizeCommandTest {
    @TempDir
    Path tmp;

    @Test
    void ggufInputGivesLlamaCppsBytes() throws Exception {
        Path out = tmp.resolve("q8_0.gguf");
        String[] r = Cli.run("quantize", Cli.shared("testdata/models/stories260K.gguf").toString(), out.toString(),
                "q8_0", "-t", "2");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("[  48/  48]").contains("Q8_0");
        assertThat(Files.mismatch(out, Cli.shared("testdata/models/stories260K-q8_0.gguf")))
                .as("first byte differing from llama.cpp's file").isEqualTo(-1L);
    }

    @Test
    void checkpointDirectoryIsQuantizedAndRuns() throws Exception {
        Path ckpt = Files.createDirectories(tmp.resolve("tiny-llama"));
        writeTinyCheckpoint(ckpt);
        Path out = tmp.resolve("tiny-q8_0.gguf");
        String[] r = Cli.run("quantize", ckpt.toString(), out.toString(), "q8_0", "-t", "1");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.modelMetadata().architecture()).isEqualTo("llama");
            assertThat(f.tensorInfo("blk.0.attn_q.weight").orElseThrow().type()).isEqualTo(GgmlType.Q8_0);
            assertThat(f.tensorInfo("blk.0.attn_norm.weight").orElseThrow().type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensorInfo("output.weight")).as("tied output matrix left out").isEmpty();
        }
        try (LanguageModel m = Llm.builder().model(out).threads(1).build()) {
            assertThat(m.complete("a b").maxNewTokens(3).ignoreEos(true).call().ids()).hasSize(3);
        }
    }

    @Test
    void f16TypeConvertsASafetensorsFileWithoutQuantizing() throws Exception {
        Path ckpt = Files.createDirectories(tmp.resolve("tiny-file"));
        writeTinyCheckpoint(ckpt);
        Path out = tmp.resolve("tiny-f16.gguf");
        String[] r = Cli.run("quantize", ckpt.resolve("model.safetensors").toString(), out.toString(), "f16");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.tensorInfo("token_embd.weight").orElseThrow().type()).isEqualTo(GgmlType.F16);
            assertThat(f.tensorInfo("output_norm.weight").orElseThrow().type()).isEqualTo(GgmlType.F32);
        }
    }

    @Test
    void missingInputIsAClearError() {
        String[] r = Cli.run("quantize", tmp.resolve("nothing-here").toString(), tmp.resolve("o.gguf").toString(), "q8_0");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("nothing-here");
    }

    /** One random Llama layer, dim 32, with a tied embedding and an 8-token SentencePiece-style vocabulary. */
    private static void writeTinyCheckpoint(Path dir) throws Exception {
        int dim = 32;
        int ffn = 64;
        int vocab = 8;
        Random random = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = SafetensorsWriter.create();
            String p = "model.layers.0.";
            w.add("model.embed_tokens.weight", SafetensorsDType.F32, new long[] {vocab, dim}, random(arena, random, vocab * dim));
            for (String name : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"}) {
                w.add(p + name + ".weight", SafetensorsDType.F32, new long[] {dim, dim}, random(arena, random, dim * dim));
            }
            w.add(p + "mlp.gate_proj.weight", SafetensorsDType.F32, new long[] {ffn, dim}, random(arena, random, ffn * dim));
            w.add(p + "mlp.up_proj.weight", SafetensorsDType.F32, new long[] {ffn, dim}, random(arena, random, ffn * dim));
            w.add(p + "mlp.down_proj.weight", SafetensorsDType.F32, new long[] {dim, ffn}, random(arena, random, ffn * dim));
            for (String norm : new String[] {p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                    "model.norm.weight"}) {
                w.add(norm, SafetensorsDType.F32, new long[] {dim}, random(arena, random, dim));
            }
            w.write(dir.resolve("model.safetensors"));
        }
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "num_key_value_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
                 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true}
                """);
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                   {"id": 2, "content": "</s>", "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                 "pre_tokenizer": null,
                 "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"},
                   "content": " "}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                 "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
                   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "\u2581": 3, "a": 4, "b": 5, "\u2581a": 6, "\u2581b": 7},
                   "merges": ["\u2581 a", "\u2581 b"]}}
                """);
    }

    private static MemorySegment random(Arena arena, Random random, int n) {
        MemorySegment s = arena.allocate(4L * n);
        for (int i = 0; i < n; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian() * 0.1f + (n <= 32 ? 1f : 0f));
        }
        return s;
    }
}
