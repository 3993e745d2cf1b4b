package dev.isthmus.core.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A random PEFT adapter on stories260K: applying it at run time must give the logits of a model whose weights
 * were merged by the test itself (W + alpha/r · B·A, with q/k rows of B put in GGUF's rotary layout).
 */
class LoraAdapterTest {
    static final int RANK = 4;
    /**
     * Logit differences that are float noise: half-precision attention rounding (as llama.cpp) turns last-bit
     * differences — summation order, or whether the JIT has compiled a Vector API kernel yet — into ~1e-3 here.
     * The adapter itself moves logits by more than 0.5.
     */
    static final double NOISE = 3e-2;
    static final float ALPHA = 8f;
    static final String[][] TARGETS = {{"self_attn", "q_proj", "attn_q"}, {"self_attn", "v_proj", "attn_v"},
            {"mlp", "down_proj", "ffn_down"}, {"self_attn", "k_proj", "attn_k"}};
    @TempDir
    static Path dir;
    static Path adapterDir;
    static Path merged;
    static Path base;
    static final int[] PROMPT = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};

    @BeforeAll
    static void writeAdapterAndMergedModel() throws Exception {
        base = SharedTestData.testdata("models/stories260K.gguf");
        adapterDir = Files.createDirectories(dir.resolve("adapter"));
        merged = dir.resolve("merged.gguf");
        SplittableRandom r = new SplittableRandom(11);
        try (GgufFile g = GgufFile.open(base); Arena arena = Arena.ofConfined()) {
            int heads = g.modelMetadata().headCount();
            int kvHeads = g.modelMetadata().headCountKv();
            SafetensorsWriter adapter = SafetensorsWriter.create();
            GgufWriter out = GgufWriter.create();
            g.values().forEach(out::put);
            java.util.Map<String, float[]> mergedWeights = new java.util.HashMap<>();
            for (int layer = 0; layer < g.modelMetadata().blockCount(); layer += 2) {
                for (String[] t : TARGETS) {
                    String gguf = "blk." + layer + "." + t[2] + ".weight";
                    long[] shape = g.tensorInfo(gguf).orElseThrow().shape();
                    int rows = (int) shape[0];
                    int cols = (int) shape[1];
                    float[] a = gaussian(r, RANK * cols, 0.3);
                    float[] b = gaussian(r, rows * RANK, 0.3);
                    String prefix = "base_model.model.model.layers." + layer + "." + t[0] + "." + t[1];
                    adapter.add(prefix + ".lora_A.weight", SafetensorsDType.F32, new long[] {RANK, cols}, floats(arena, a));
                    adapter.add(prefix + ".lora_B.weight", SafetensorsDType.F32, new long[] {rows, RANK}, floats(arena, b));
                    float[] bGguf = b;
                    if (t[2].equals("attn_q") || t[2].equals("attn_k")) {
                        bGguf = adjacent(b, rows, RANK, t[2].equals("attn_q") ? heads : kvHeads);
                    }
                    float[] w = g.tensor(gguf).toFloatArray();
                    for (int o = 0; o < rows; o++) {
                        for (int i = 0; i < cols; i++) {
                            double d = 0;
                            for (int k = 0; k < RANK; k++) {
                                d += (double) bGguf[o * RANK + k] * a[k * cols + i];
                            }
                            w[o * cols + i] += (float) (ALPHA / RANK * d);
                        }
                    }
                    mergedWeights.put(gguf, w);
                }
            }
            for (GgufTensorInfo info : g.tensors()) {
                float[] w = mergedWeights.get(info.name());
                MemorySegment data = w == null ? g.tensorData(info.name()) : floats(arena, w);
                out.addTensor(info.name(), info.type() == GgmlType.F32 ? GgmlType.F32 : info.type(), info.ggufDims(), data);
            }
            out.write(merged);
            adapter.write(adapterDir.resolve("adapter_model.safetensors"));
            Files.writeString(adapterDir.resolve("adapter_config.json"),
                    "{\"peft_type\": \"LORA\", \"r\": " + RANK + ", \"lora_alpha\": " + ALPHA + "}");
        }
    }

    static float[] adjacent(float[] b, int rows, int cols, int heads) {
        int hd = rows / heads;
        float[] out = new float[b.length];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hd / 2; j++) {
                for (int a = 0; a < 2; a++) {
                    System.arraycopy(b, (h * hd + a * (hd / 2) + j) * cols, out, (h * hd + 2 * j + a) * cols, cols);
                }
            }
        }
        return out;
    }

    static float[] gaussian(SplittableRandom r, int n, double sd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * sd);
        }
        return v;
    }

    static MemorySegment floats(Arena arena, float[] v) {
        MemorySegment m = arena.allocate(4L * v.length);
        MemorySegment.copy(v, 0, m, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, v.length);
        return m;
    }

    static double maxDiff(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    @Test
    void runtimeAdapterEqualsMergedWeights() throws Exception {
        LoraAdapter lora = LoraAdapter.load(adapterDir);
        assertThat(lora.effectiveScale()).isEqualTo(ALPHA / RANK);
        try (LanguageModel adapted = Llm.builder().model(base).adapter(lora).threads(1).build();
             LanguageModel reference = Llm.builder().model(merged).threads(1).build();
             LanguageModel plain = Llm.builder().model(base).threads(1).build()) {
            float[] withAdapter = adapted.logits(PROMPT);
            float[] mergedLogits = reference.logits(PROMPT);
            float[] baseLogits = plain.logits(PROMPT);
            assertThat(maxDiff(baseLogits, mergedLogits)).as("the adapter must change the model").isGreaterThan(0.5);
            assertThat(maxDiff(withAdapter, mergedLogits)).as("runtime LoRA vs merged weights").isLessThan(NOISE);
            adapted.setAdapters(List.of(lora.scale(0f)));
            assertThat(maxDiff(adapted.logits(PROMPT), baseLogits)).as("scale 0 is the base model").isLessThan(NOISE);
            adapted.setAdapters(List.of());
            assertThat(maxDiff(adapted.logits(PROMPT), baseLogits)).as("no adapters").isLessThan(NOISE);
        }
    }

    @Test
    void mergingIntoAGgufGivesTheRuntimeResult() throws Exception {
        LoraAdapter lora = LoraAdapter.load(adapterDir);
        Path ours = dir.resolve("merged-by-isthmus.gguf");
        LoraMerger.merge(base, lora, ours);
        try (LanguageModel a = Llm.builder().model(ours).threads(1).build();
             LanguageModel b = Llm.builder().model(merged).threads(1).build()) {
            assertThat(maxDiff(a.logits(PROMPT), b.logits(PROMPT))).as("LoraMerger vs the test's merge (float vs double sums)").isLessThan(NOISE);
        }
    }

    @Test
    void adapterForAnotherModelIsRefused() throws Exception {
        LoraAdapter lora = LoraAdapter.load(adapterDir);
        assertThatThrownBy(() -> Llm.builder().model(SharedTestData.testdata("models/synth-llama256-f32.gguf"))
                .adapter(lora).build()).isInstanceOf(ModelLoadException.class).hasMessageContaining("adapter")
                .hasMessageContaining("layer");
    }

    @Test
    void foreignTensorsAreNamed(@TempDir Path other) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.create().add("lm_head.weight", SafetensorsDType.F32, new long[] {2, 2}, arena.allocate(16))
                    .write(other.resolve("adapter_model.safetensors"));
        }
        assertThatThrownBy(() -> LoraAdapter.load(other)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lm_head.weight");
    }
}
