package dev.isthmus.tokenizers.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Llama 3 and Qwen3 templates shipped with the shared tokenizers render byte for byte as
 * {@code ref chat-template} does (see src/test/resources/templates/README.md).
 */
class ChatTemplateGoldenTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Clock FIXED = Clock.fixed(Instant.parse("2025-07-26T10:00:00Z"), ZoneOffset.UTC);

    static Stream<JsonNode> scenarios() throws IOException {
        List<JsonNode> list = new ArrayList<>();
        JSON.readTree(resource("scenarios.json")).forEach(list::add);
        return list.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void rendersLikeTransformers(JsonNode scenario) throws IOException {
        ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfig(
                SharedData.tokenizers().resolve(scenario.get("config").asText() + ".tokenizer_config.json"));
        List<ChatMessage> messages = ChatMessage.listFromJson(resource(scenario.get("messages").asText()
                + ".messages.json"));
        RenderOptions options = config.defaultOptions()
                .withAddGenerationPrompt(scenario.path("addGenerationPrompt").asBoolean())
                .withClock(FIXED);
        if (scenario.hasNonNull("tools")) {
            options = options.withTools(List.of(JSON.readTree(resource(scenario.get("tools").asText()
                    + ".tools.json"))).stream().flatMap(node -> {
                        List<Object> tools = new ArrayList<>();
                        node.forEach(tools::add);
                        return tools.stream();
                    }).toList());
        }
        for (Map.Entry<String, JsonNode> kwarg : scenario.path("kwargs").properties()) {
            options = options.withExtra(kwarg.getKey(), kwarg.getValue());
        }
        String expected = resource(scenario.get("name").asText() + ".expected.txt");

        String rendered = config.render(messages, options);

        assertThat(rendered).as("rendering of scenario %s", scenario.get("name").asText()).isEqualTo(expected);
    }

    private static String resource(String name) {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/templates/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource templates/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
