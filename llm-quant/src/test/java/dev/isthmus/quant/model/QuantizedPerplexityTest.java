package dev.isthmus.quant.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.llm.PerplexityResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Perplexity of the quantized stories260K files within 0.5% of llama.cpp's (reference/…-perplexity-ctx128.jsonl). */
class QuantizedPerplexityTest {

    static Path shared(String relative) {
        Path p = Path.of(System.getProperty("isthmus.shared", "../shared"), "testdata", relative);
        assumeTrue(Files.exists(p), "../shared/testdata is absent: " + p + " not found");
        return p;
    }

    static Stream<JsonNode> references() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(shared("reference/stories260K-perplexity-ctx128.jsonl"))) {
            JsonNode n = json.readTree(line);
            if (n.get("model").asText().matches(".*-q[45]_[01]\\.gguf")) {
                out.add(n);
            }
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("references")
    void matchesLlamaPerplexity(JsonNode ref) throws Exception {
        String text = Files.readString(shared("corpus/wiki.test.raw"));
        try (LanguageModel m = Llm.builder().model(shared(ref.get("model").asText().replaceFirst("^testdata/", "")))
                .threads(2).build()) {
            PerplexityResult r = m.perplexity(text, ref.get("ctx").asInt(), ref.get("chunks").asInt(),
                    ref.get("bos").asBoolean());
            double expected = ref.get("perplexity").asDouble();
            System.out.printf("perplexity %s: %.4f (llama.cpp %.4f, %+.3f%%)%n", ref.get("model").asText(),
                    r.perplexity(), expected, 100 * (r.perplexity() / expected - 1));
            assertThat(r.perplexity()).isCloseTo(expected, within(expected * 0.005));
        }
    }
}
