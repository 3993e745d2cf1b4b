package dev.isthmus.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus tokenize} reproduces the reference .out files byte for byte. */
class TokenizeCommandTest {

    private static Path shared(String relative) {
        return Cli.shared(relative);
    }

    private static String[] run(String... args) {
        return Cli.run(args);
    }

    @Test
    void tokenizerJsonGivesTheVectorFileIds() throws Exception {
        String[] r = run("tokenize", "--tokenizer", shared("testdata/tokenizers/llama3.tokenizer.json").toString(),
                "--input", shared("testdata/vectors/llama-bpe.inp").toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).isEqualTo(Files.readString(shared("testdata/vectors/llama-bpe.out")));
    }

    @Test
    void ggufModelGivesTheVectorFileIds() throws Exception {
        String[] r = run("tokenize", "--model", shared("testdata/models/llama-2-tiny-random.gguf").toString(),
                "--input", shared("testdata/vectors/llama-spm.inp").toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).isEqualTo(Files.readString(shared("testdata/vectors/llama-spm.out")));
    }

    @Test
    void decodeTurnsIdLinesBackIntoTheInpFile(@TempDir Path temp) throws Exception {
        Path text = temp.resolve("texts.inp");
        String[] r = run("tokenize", "--decode", "--tokenizer", shared("testdata/tokenizers/gpt2.tokenizer.json").toString(),
                "--input", shared("testdata/vectors/gpt-2.out").toString(), "--output", text.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(Files.readString(text, StandardCharsets.UTF_8))
                .isEqualTo(Files.readString(shared("testdata/vectors/gpt-2.inp"), StandardCharsets.UTF_8));
    }

    @Test
    void tokenizerAndModelAreMutuallyExclusive() {
        String[] r = run("tokenize", "--tokenizer", "a.json", "--model", "b.gguf", "--input", "x.inp");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("mutually exclusive");
    }
}
