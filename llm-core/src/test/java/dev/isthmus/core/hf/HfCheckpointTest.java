package dev.isthmus.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.llm.Completion;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import dev.isthmus.core.testing.SharedTestData;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * stories260K rewritten as a Hugging Face checkpoint (HF tensor names, q/k rows in HF's half-split order,
 * config.json) must generate exactly llama.cpp's greedy ids from the GGUF.
 */
class HfCheckpointTest {
    @TempDir
    static Path dir;
    static Tokenizer tokenizer;

    @BeforeAll
    static void writeCheckpoint() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf")); Arena arena = Arena.ofConfined()) {
            tokenizer = GgufTokenizerLoader.fromMetadata(gguf.metadata());
            var m = gguf.modelMetadata();
            int heads = m.headCount();
            int kvHeads = m.headCountKv();
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (GgufTensorInfo t : gguf.tensors()) {
                String hf = HfCheckpoint.hfName(t.name());
                float[] values = gguf.tensor(t.name()).toFloatArray();
                long[] shape = t.shape();
                if (t.name().endsWith("attn_q.weight")) {
                    values = toHalfSplit(values, shape, heads);
                } else if (t.name().endsWith("attn_k.weight")) {
                    values = toHalfSplit(values, shape, kvHeads);
                }
                MemorySegment data = arena.allocate(4L * values.length);
                MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
                w.add(hf, SafetensorsDType.F32, shape, data);
            }
            w.write(dir.resolve("model.safetensors"));
            Files.writeString(dir.resolve("config.json"), """
                    {"model_type": "llama", "hidden_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                     "num_key_value_heads": %d, "intermediate_size": %d, "max_position_embeddings": %d,
                     "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}
                    """.formatted(m.embeddingLength(), m.blockCount(), heads, kvHeads, m.feedForwardLength(),
                    m.contextLength()));
        }
    }

    /** GGUF keeps Meta's adjacent rotary pairs; HF checkpoints store each head's rows as two halves. */
    static float[] toHalfSplit(float[] gguf, long[] shape, int heads) {
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        int hd = rows / heads;
        float[] out = new float[gguf.length];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hd / 2; j++) {
                for (int a = 0; a < 2; a++) {
                    int from = h * hd + 2 * j + a;
                    int to = h * hd + a * (hd / 2) + j;
                    System.arraycopy(gguf, from * cols, out, to * cols, cols);
                }
            }
        }
        return out;
    }

    /**
     * The checkpoint runs the same computation as the GGUF, with each head's elements summed in another order
     * (half-split instead of adjacent pairs); after the half-precision attention rounding that llama.cpp uses,
     * logits agree to ~1e-2 rather than bit for bit (a wrong q/k layout would differ by whole units).
     */
    @Test
    void checkpointComputesTheSameLogitsAsTheGguf() throws Exception {
        List<String> lines = Files.readAllLines(SharedTestData.testdata("reference/stories260K-greedy.jsonl"));
        try (LanguageModel hf = Llm.builder().model(dir).tokenizer(tokenizer).threads(2).build();
             LanguageModel gguf = Llm.builder().model(SharedTestData.testdata("models/stories260K.gguf")).threads(2).build()) {
            assertThat(hf.config().ropeStyle()).isEqualTo(dev.isthmus.core.backend.cpu.Rope.Style.NEOX);
            for (String line : lines) {
                JsonNode ref = new ObjectMapper().readTree(line);
                int[] prompt = ids(ref.get("prompt_ids"));
                int[] expected = ids(ref.get("ids"));
                int[] all = java.util.Arrays.copyOf(prompt, prompt.length + expected.length);
                System.arraycopy(expected, 0, all, prompt.length, expected.length);
                float[] a = hf.logits(all);
                float[] b = gguf.logits(all);
                double worst = 0;
                for (int i = 0; i < a.length; i++) {
                    worst = Math.max(worst, Math.abs(a[i] - b[i]));
                }
                assertThat(worst).as("largest logit difference for %s", ref.get("prompt")).isLessThan(2e-2);
                Completion c = hf.complete(prompt).maxNewTokens(16).ignoreEos(true).call();
                assertThat(c.ids()).as("first greedy ids for %s", ref.get("prompt"))
                        .containsExactly(java.util.Arrays.copyOf(expected, 16));
            }
        }
    }

    @Test
    void missingTokenizerIsNamed() {
        assertThatThrownBy(() -> Llm.builder().model(dir).build()).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("tokenizer.json");
    }

    @Test
    void unsupportedModelTypeIsNamed(@TempDir Path other) throws Exception {
        Files.writeString(other.resolve("config.json"), "{\"model_type\": \"falcon\"}");
        Files.copy(dir.resolve("model.safetensors"), other.resolve("model.safetensors"));
        assertThatThrownBy(() -> Llm.builder().model(other).tokenizer(tokenizer).build())
                .hasMessageContaining("falcon");
    }

    static int[] ids(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }
}
