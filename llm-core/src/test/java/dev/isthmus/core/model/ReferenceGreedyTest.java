package dev.isthmus.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Greedy continuations must equal llama.cpp's, token for token (shared/testdata/reference). */
public class ReferenceGreedyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> cases() throws Exception {
        List<Arguments> out = new ArrayList<>();
        for (String file : new String[] {"reference/stories260K-greedy.jsonl", "reference/synth-arch-greedy.jsonl"}) {
            Path p = SharedTestData.testdata(file);
            for (String line : Files.readAllLines(p)) {
                if (!line.isBlank()) {
                    JsonNode n = JSON.readTree(line);
                    out.add(Arguments.of(n.get("model").asText(), n.get("prompt").asText(), ids(n.get("prompt_ids")),
                            ids(n.get("ids"))));
                }
            }
        }
        // f16 and q8_0 expectations generated with `ref generate` (see src/test/resources/reference/README.md).
        try (var in = ReferenceGreedyTest.class.getResourceAsStream("/reference/stories260K-f16-q8_0-greedy.jsonl")) {
            for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    JsonNode n = JSON.readTree(line);
                    out.add(Arguments.of(n.get("model").asText(), n.get("prompt").asText(), ids(n.get("prompt_ids")),
                            ids(n.get("ids"))));
                }
            }
        }
        return out.stream();
    }

    static int[] ids(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asInt();
        }
        return r;
    }

    @ParameterizedTest(name = "{0} \"{1}\" {2}")
    @MethodSource("cases")
    void greedyIdsMatchLlamaCpp(String model, String prompt, int[] promptIds, int[] expected) throws Exception {
        Path path = SharedTestData.testdata(model.replaceFirst("^testdata/", ""));
        try (GgufFile gguf = GgufFile.open(path); Backend backend = Backends.create("cpu", 2)) {
            DecoderModel m = DecoderModel.load(gguf, backend);
            InferenceState s = m.newState(promptIds.length + expected.length + 1);
            float[] logits = new float[m.config().vocabSize()];
            m.forward(s, promptIds, 0, promptIds.length, logits, false);
            int[] got = new int[expected.length];
            for (int i = 0; i < expected.length; i++) {
                got[i] = argmax(logits);
                m.forward(s, new int[] {got[i]}, 0, 1, logits, false);
            }
            assertThat(got).as("greedy ids of %s for %s", model, java.util.Arrays.toString(promptIds))
                    .containsExactly(expected);
        }
    }

    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
