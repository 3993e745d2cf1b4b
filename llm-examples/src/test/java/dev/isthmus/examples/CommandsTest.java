package dev.isthmus.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generation, embedding and retrieval commands, end to end on the shared test models. */
class CommandsTest {

    private static Path shared(String relative) {
        return Cli.shared("testdata/" + relative);
    }

    private static String[] run(String... args) {
        return Cli.run(args);
    }

    @Test
    void generateJsonMatchesTheReferenceShapeAndIds() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(Files.readAllLines(shared("reference/stories260K-greedy.jsonl")).get(0));
        String[] r = run("generate", "-m", shared("models/stories260K.gguf").toString(), "-t", "1", "--bos", "--json",
                "-n", String.valueOf(ref.get("ids").size()), "--ignore-eos", ref.get("prompt").asText());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode ours = new ObjectMapper().readTree(r[1]);
        assertThat(ours.get("prompt_ids")).isEqualTo(ref.get("prompt_ids"));
        assertThat(ours.get("ids")).isEqualTo(ref.get("ids"));
        assertThat(ours.get("text").asText()).isEqualTo(ref.get("text").asText());
        assertThat(ours.get("finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void invalidSamplerOptionGivesAClearError() {
        String[] r = run("generate", "-m", shared("models/stories260K.gguf").toString(), "--top-p", "1.5", "hi");
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("topP must be in (0, 1]");
    }

    @Test
    void embedPrintsOneNormalisedArrayPerLine(@TempDir Path temp) throws Exception {
        Path input = temp.resolve("texts.txt");
        Files.writeString(input, "first line\nsecond line\n");
        String[] r = run("embed", "-m", shared("models/all-minilm-l6-v2-q8_0.gguf").toString(), "-t", "1",
                "-i", input.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        String[] lines = r[1].strip().split("\n");
        assertThat(lines).hasSize(2);
        JsonNode v = new ObjectMapper().readTree(lines[0]);
        assertThat(v.size()).isEqualTo(384);
        double norm = 0;
        for (JsonNode x : v) {
            norm += x.asDouble() * x.asDouble();
        }
        assertThat(norm).isBetween(0.999, 1.001);
    }

    @Test
    void ragRetrievesTheRelevantDocument(@TempDir Path temp) throws Exception {
        Files.writeString(temp.resolve("cooking.md"), "Boil pasta in salted water for ten minutes.");
        Files.writeString(temp.resolve("astronomy.md"), "The Moon orbits the Earth every 27 days.");
        Files.writeString(temp.resolve("java.txt"), "Maven builds Java projects described by a pom.xml.");
        String[] r = run("rag", "-e", shared("models/all-minilm-l6-v2-q8_0.gguf").toString(), "-t", "1",
                "-d", temp.toString(), "-k", "1", "-q", "How long does the Moon take to go around us?");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("Indexed 3 passages from 3 files").contains("astronomy.md#0")
                .doesNotContain("cooking.md#0");
    }

    @Test
    void ragWithADecoderFitsThePassagesIntoItsContext(@TempDir Path temp) throws Exception {
        String longText = "Lily played in the park with her ball. ".repeat(40);
        Files.writeString(temp.resolve("story.md"), longText);
        Files.writeString(temp.resolve("other.md"), "The Moon orbits the Earth every 27 days.");
        String[] r = run("rag", "-e", shared("models/all-minilm-l6-v2-q8_0.gguf").toString(), "-t", "1",
                "-d", temp.toString(), "-k", "3", "-q", "Where did Lily play?",
                "--model", shared("models/stories260K.gguf").toString(), "-n", "8");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("story.md#0").contains("A: ");
    }
}
