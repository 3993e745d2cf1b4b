package dev.isthmus.core.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fill-mask on a small random BERT with an MLM head that the test writes (MiniLM's vocabulary); the head's
 * scores are checked against a scalar computation from the encoder's token states.
 */
class FillMaskTest {
    static final int DIM = 32;
    static final int FFN = 64;
    @TempDir
    static Path temp;
    static Path model;
    static int vocab;

    @BeforeAll
    static void writeModel() throws Exception {
        model = temp.resolve("tiny-bert-mlm.gguf");
        SplittableRandom r = new SplittableRandom(5);
        try (GgufFile vocabSource = GgufFile.open(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf"));
             Arena arena = Arena.ofConfined()) {
            GgufWriter w = GgufWriter.create();
            w.put("general.architecture", GgufValue.string("bert"));
            w.put("bert.context_length", GgufValue.uint32(64));
            w.put("bert.embedding_length", GgufValue.uint32(DIM));
            w.put("bert.feed_forward_length", GgufValue.uint32(FFN));
            w.put("bert.block_count", GgufValue.uint32(2));
            w.put("bert.attention.head_count", GgufValue.uint32(2));
            w.put("bert.attention.layer_norm_epsilon", GgufValue.float32(1e-12f));
            for (Map.Entry<String, GgufValue> e : vocabSource.values().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) {
                    w.put(e.getKey(), e.getValue());
                }
            }
            vocab = (int) vocabSource.tensorInfo("token_embd.weight").orElseThrow().ggufDims()[1];
            w.addTensor("token_embd.weight", GgmlType.F32, new long[] {DIM, vocab}, random(arena, r, vocab * DIM, 0.5f));
            w.addTensor("position_embd.weight", GgmlType.F32, new long[] {DIM, 64}, random(arena, r, 64 * DIM, 0.1f));
            w.addTensor("token_embd_norm.weight", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 1f));
            w.addTensor("token_embd_norm.bias", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 0f));
            for (int l = 0; l < 2; l++) {
                String p = "blk." + l + ".";
                for (String m : new String[] {"attn_q", "attn_k", "attn_v", "attn_output"}) {
                    w.addTensor(p + m + ".weight", GgmlType.F32, new long[] {DIM, DIM}, random(arena, r, DIM * DIM, 0.2f));
                    w.addTensor(p + m + ".bias", GgmlType.F32, new long[] {DIM}, random(arena, r, DIM, 0.05f));
                }
                w.addTensor(p + "attn_output_norm.weight", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 1f));
                w.addTensor(p + "attn_output_norm.bias", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 0f));
                w.addTensor(p + "ffn_up.weight", GgmlType.F32, new long[] {DIM, FFN}, random(arena, r, DIM * FFN, 0.2f));
                w.addTensor(p + "ffn_up.bias", GgmlType.F32, new long[] {FFN}, random(arena, r, FFN, 0.05f));
                w.addTensor(p + "ffn_down.weight", GgmlType.F32, new long[] {FFN, DIM}, random(arena, r, DIM * FFN, 0.2f));
                w.addTensor(p + "ffn_down.bias", GgmlType.F32, new long[] {DIM}, random(arena, r, DIM, 0.05f));
                w.addTensor(p + "layer_output_norm.weight", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 1f));
                w.addTensor(p + "layer_output_norm.bias", GgmlType.F32, new long[] {DIM}, constant(arena, DIM, 0f));
            }
            w.addTensor("mlm.dense.weight", GgmlType.F32, new long[] {DIM, DIM}, random(arena, r, DIM * DIM, 0.3f));
            w.addTensor("mlm.dense.bias", GgmlType.F32, new long[] {DIM}, random(arena, r, DIM, 0.05f));
            w.addTensor("mlm.norm.weight", GgmlType.F32, new long[] {DIM}, random(arena, r, DIM, 0.5f));
            w.addTensor("mlm.norm.bias", GgmlType.F32, new long[] {DIM}, random(arena, r, DIM, 0.05f));
            w.addTensor("mlm.decoder.bias", GgmlType.F32, new long[] {vocab}, random(arena, r, vocab, 0.5f));
            w.write(model);
        }
    }

    static MemorySegment random(Arena arena, SplittableRandom r, int n, float scale) {
        MemorySegment m = arena.allocate(4L * n);
        for (int i = 0; i < n; i++) {
            m.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (r.nextGaussian() * scale));
        }
        return m;
    }

    static MemorySegment constant(Arena arena, int n, float v) {
        MemorySegment m = arena.allocate(4L * n);
        for (int i = 0; i < n; i++) {
            m.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
        }
        return m;
    }

    @Test
    void fillMaskScoresEqualAScalarHeadOverTheMaskState() throws Exception {
        String text = "What a horrible [MASK]!";
        try (Encoder bert = Llm.encoder().model(model).threads(1).build(); GgufFile g = GgufFile.open(model)) {
            assertThat(bert.hasMlmHead()).isTrue();
            List<Fill> fills = bert.fillMask(text, 5);
            assertThat(fills).hasSize(5);
            int[] ids = bert.tokens(text);
            int maskAt = -1;
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] == 103) {
                    maskAt = i;
                }
            }
            float[] h = bert.tokenStates(text)[maskAt];
            double[] probs = scalarHead(g, h);
            int[] order = java.util.stream.IntStream.range(0, vocab).boxed()
                    .sorted((a, b) -> Double.compare(probs[b], probs[a])).mapToInt(Integer::intValue).limit(5).toArray();
            for (int k = 0; k < 5; k++) {
                assertThat(fills.get(k).tokenId()).as("rank %d", k).isEqualTo(order[k]);
                assertThat(fills.get(k).score()).isCloseTo(probs[order[k]], within(1e-5));
                assertThat(fills.get(k).sequence()).doesNotContain("[MASK]");
            }
        }
    }

    /** gelu(W h + b) → LayerNorm → E·t + bias → softmax, in double. */
    private static double[] scalarHead(GgufFile g, float[] h) {
        float[] w = g.tensor("mlm.dense.weight").toFloatArray();
        float[] b = g.tensor("mlm.dense.bias").toFloatArray();
        double[] t = new double[DIM];
        for (int i = 0; i < DIM; i++) {
            double s = b[i];
            for (int j = 0; j < DIM; j++) {
                s += (double) w[i * DIM + j] * h[j];
            }
            t[i] = 0.5 * s * (1 + BertModel.erf(s / Math.sqrt(2)));
        }
        double mean = java.util.Arrays.stream(t).average().orElseThrow();
        double var = java.util.Arrays.stream(t).map(v -> (v - mean) * (v - mean)).average().orElseThrow();
        float[] nw = g.tensor("mlm.norm.weight").toFloatArray();
        float[] nb = g.tensor("mlm.norm.bias").toFloatArray();
        for (int i = 0; i < DIM; i++) {
            t[i] = (t[i] - mean) / Math.sqrt(var + 1e-12) * nw[i] + nb[i];
        }
        float[] e = g.tensor("token_embd.weight").toFloatArray();
        float[] bias = g.tensor("mlm.decoder.bias").toFloatArray();
        double[] logits = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            double s = bias[v];
            for (int i = 0; i < DIM; i++) {
                s += e[v * DIM + i] * t[i];
            }
            logits[v] = s;
            max = Math.max(max, s);
        }
        double z = 0;
        for (int v = 0; v < vocab; v++) {
            logits[v] = Math.exp(logits[v] - max);
            z += logits[v];
        }
        for (int v = 0; v < vocab; v++) {
            logits[v] /= z;
        }
        return logits;
    }

    @Test
    void textWithoutAMaskIsRejected() {
        try (Encoder bert = Llm.encoder().model(model).threads(1).build()) {
            assertThatThrownBy(() -> bert.fillMask("no mask here", 3)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[MASK]");
            assertThatThrownBy(() -> bert.fillMask("[MASK] and [MASK]", 3)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("more than one");
        }
    }
}
