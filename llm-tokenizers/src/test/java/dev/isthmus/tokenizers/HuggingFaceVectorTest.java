package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** llama.cpp's tokenizer test vectors, encoded through each model's tokenizer.json. */
class HuggingFaceVectorTest {
    /** Vector file to the tokenizer.json it was verified against (testdata/README.md). */
    private static final Map<String, String> FILES = Map.of(
            "gpt-2", "gpt2", "llama-bpe", "llama3", "qwen2", "qwen3", "bert-bge", "all-minilm-l6-v2");

    static Stream<SharedTestData.Case> allVectors() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String vocab : List.of("gpt-2", "llama-bpe", "qwen2", "bert-bge")) {
            all.addAll(SharedTestData.vectors(vocab));
        }
        return all.stream();
    }

    static Stream<SharedTestData.Case> byteLevelVectors() throws IOException {
        return allVectors().filter(c -> !c.vocab().equals("bert-bge"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allVectors")
    void encodesVectorTextToReferenceIds(SharedTestData.Case c) {
        Tokenizer tok = SharedTestData.huggingFace(FILES.get(c.vocab()));
        int[] ids = tok.encode(c.text(), EncodeOptions.PLAIN_TEXT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("byteLevelVectors")
    void byteLevelDecodeGivesTextBack(SharedTestData.Case c) {
        Tokenizer tok = SharedTestData.huggingFace(FILES.get(c.vocab()));
        assertThat(tok.decode(c.ids())).as("decode of the reference ids of %s", c).isEqualTo(c.text());
    }
}
