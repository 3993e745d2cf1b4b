package dev.isthmus.quant.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.model.DecoderModel;
import dev.isthmus.core.model.InferenceState;
import dev.isthmus.quant.testing.SharedFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Greedy continuations of stories260K quantized by llama.cpp (Q4_0, Q4_1, Q5_0, Q5_1) against llama.cpp's
 * (expected ids in src/test/resources/reference, see the README there): 48 tokens for 4 prompts, with and
 * without BOS.
 *
 * <p>Token-for-token equality is expected only until an 8-bit activation rounding goes the other way (see
 * {@link QuantizedTopKTest}); after that the continuations may part. Measured: Q4_0 7 of 8 continuations
 * equal in full (the other for 46 tokens), Q5_1 7 of 8 (45), Q5_0 5 of 8 (20, 23, 44), Q4_1 4 of 8
 * (1, 3, 13, 23). So every continuation must start with llama.cpp's first token, and at least half must
 * equal it in full. Q4_1/Q5_1 meet Q8_1 activations whose block sum llama.cpp keeps in F16, which we do
 * not model: a likely reason Q4_1 parts earliest.
 */
class QuantizedGreedyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Case(String prompt, int[] promptIds, int[] ids) {
    }

    static List<Case> cases(String model) throws Exception {
        List<Case> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                QuantizedGreedyTest.class.getResourceAsStream("/reference/stories260K-quant-greedy.jsonl"),
                StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.isBlank()) {
                    JsonNode n = JSON.readTree(line);
                    if (n.get("model").asText().endsWith("/" + model)) {
                        out.add(new Case(n.get("prompt").asText(), QuantizedTopKTest.ids(n.get("prompt_ids")),
                                QuantizedTopKTest.ids(n.get("ids"))));
                    }
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-q4_0.gguf", "stories260K-q4_1.gguf", "stories260K-q5_0.gguf",
        "stories260K-q5_1.gguf"})
    void greedyIdsFollowLlamaCpp(String model) throws Exception {
        List<Case> cases = cases(model);
        assertThat(cases).as("expected continuations for %s", model).hasSize(8);
        int identical = 0;
        try (GgufFile gguf = GgufFile.open(SharedFiles.testdata("models/" + model));
             Backend backend = Backends.create("cpu", 2)) {
            DecoderModel m = DecoderModel.load(gguf, backend);
            for (Case c : cases) {
                int[] got = generate(m, c.promptIds(), c.ids().length);
                int agree = 0;
                while (agree < got.length && got[agree] == c.ids()[agree]) {
                    agree++;
                }
                System.out.printf("greedy %s %s: first %d of %d ids equal llama.cpp's%n", model,
                        java.util.Arrays.toString(c.promptIds()), agree, got.length);
                assertThat(agree).as("%s %s: leading ids equal to llama.cpp's (ours %s, theirs %s)", model,
                        java.util.Arrays.toString(c.promptIds()), java.util.Arrays.toString(got),
                        java.util.Arrays.toString(c.ids())).isPositive();
                if (agree == got.length) {
                    identical++;
                }
            }
        }
        assertThat(identical).as("%s: continuations identical to llama.cpp's", model).isGreaterThanOrEqualTo(4);
    }

    /** {@code n} greedy ids after {@code prompt}: the prompt in one forward pass, then one token at a time. */
    static int[] generate(DecoderModel m, int[] prompt, int n) {
        InferenceState s = m.newState(prompt.length + n + 1);
        float[] logits = new float[m.config().vocabSize()];
        m.forward(s, prompt, 0, prompt.length, logits, false);
        int[] got = new int[n];
        for (int i = 0; i < n; i++) {
            got[i] = argmax(logits);
            m.forward(s, new int[] {got[i]}, 0, 1, logits, false);
        }
        return got;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
