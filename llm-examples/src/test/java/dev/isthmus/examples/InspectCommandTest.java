package dev.isthmus.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {

    private static Path model(String name) {
        return Cli.shared("testdata/models/" + name);
    }

    private static String[] run(String... args) {
        return Cli.run(args);
    }

    @Test
    void printsMetadataAndTensorTable() {
        String[] r = run("inspect", model("stories260K-q8_0.gguf").toString());
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("GGUF v3, 20 metadata keys, 48 tensors")
                .contains("llama.block_count = 5")
                .contains("tokenizer.ggml.tokens = ['<unk>', '<s>', '</s>'")
                .contains("(512 elements)")
                .containsPattern("Q8_0\\s+\\[64, 512\\]\\s+\\d+\\s+34816\\s+output.weight");
    }

    @Test
    void corruptFileGivesAClearErrorNotAStackTrace(@TempDir Path temp) throws Exception {
        Path bad = temp.resolve("bad.gguf");
        byte[] bytes = Files.readAllBytes(model("stories260K.gguf"));
        Files.write(bad, java.util.Arrays.copyOf(bytes, 100));
        String[] r = run("inspect", bad.toString());
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).startsWith("isthmus: GGUF").containsIgnoringCase("bytes left").doesNotContain("\tat ");
    }
}
