package dev.isthmus.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.backend.cpu.CpuOps;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Next-token probabilities at every prompt position must match llama.cpp's top 5 (reference/topk.jsonl).
 * Files whose formats need llm-quant are checked by that module's copy of this comparison.
 *
 * <p>llama.cpp accumulates attention outputs in half precision, where a last-bit difference in an
 * earlier float sum can flip one rounding; so the probabilities must agree within 1e-3
 * relative for at most a fifth of the values, and every one within 1e-2.
 */
class ReferenceTopKTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Relative tolerance on probabilities, plus a small absolute floor for tiny ones. */
    static final double RELATIVE = 1e-3;
    static final double WORST_RELATIVE = 1e-2;
    static final double ABSOLUTE = 2e-6;

    static Stream<Arguments> cases() throws Exception {
        List<Arguments> out = new ArrayList<>();
        for (String line : Files.readAllLines(SharedTestData.testdata("reference/topk.jsonl"))) {
            if (!line.isBlank()) {
                JsonNode n = JSON.readTree(line);
                out.add(Arguments.of(n.get("model").asText().replaceFirst("^testdata/", ""), n.get("prompt").asText(), n));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} \"{1}\"")
    @MethodSource("cases")
    void probabilitiesMatchLlamaCpp(String model, String prompt, JsonNode reference) throws Exception {
        Path path = SharedTestData.testdata(model);
        try (GgufFile gguf = GgufFile.open(path); Backend backend = Backends.create("cpu", 2)) {
            for (GgufTensorInfo t : gguf.tensors()) {
                assumeTrue(BlockFormats.find(t.type()).isPresent(), model + " needs " + t.type()
                        + " from llm-quant: checked there");
            }
            DecoderModel m = DecoderModel.load(gguf, backend);
            int[] ids = ReferenceGreedyTest.ids(reference.get("prompt_ids"));
            int vocab = m.config().vocabSize();
            float[] logits = new float[ids.length * vocab];
            m.forward(m.newState(ids.length), ids, 0, ids.length, logits, true);
            double worst = 0;
            int compared = 0;
            int outside = 0;
            for (JsonNode position : reference.get("positions")) {
                int pos = position.get("pos").asInt();
                CpuOps.softmax(logits, pos * vocab, vocab);
                for (JsonNode top : position.get("top")) {
                    int id = top.get(0).asInt();
                    double expected = top.get(1).asDouble();
                    double actual = logits[pos * vocab + id];
                    worst = Math.max(worst, Math.abs(actual - expected) / expected);
                    compared++;
                    if (Math.abs(actual - expected) > expected * RELATIVE + ABSOLUTE) {
                        outside++;
                    }
                    assertThat(actual).as("%s position %d token %d probability", model, pos, id)
                            .isCloseTo(expected, org.assertj.core.data.Offset.offset(expected * WORST_RELATIVE + ABSOLUTE));
                }
            }
            System.out.printf("topk %s \"%s\": %d probabilities, %d beyond 1e-3 relative, worst %.2e%n", model,
                    prompt, compared, outside, worst);
            if (!model.contains("bf16")) {
                // Known gap: BF16 weights deviate up to 0.6% from llama.cpp (see the closing note of issue 5).
                assertThat(outside).as("%s: probabilities beyond 1e-3 relative", model).isLessThanOrEqualTo(
                        Math.max(3, compared / 5));
            }
        }
    }
}
