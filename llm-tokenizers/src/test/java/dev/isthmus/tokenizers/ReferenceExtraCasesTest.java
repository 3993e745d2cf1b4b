package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Texts beyond llama.cpp's vectors (special tokens, CJK, emoji, whitespace, numbers, contractions, control
 * characters) against ids the reference tools produced (see {@code src/test/resources/reference-ids/README.md}).
 * The same texts through GGUF vocabularies are checked in llm-core ({@code GgufVocabularyTest}), which reads GGUF.
 */
class ReferenceExtraCasesTest {
    private static final List<String> HF_NAMES = List.of("gpt2", "llama3", "qwen3", "all-minilm-l6-v2");
    /** Hand-picked texts, and 300 random concatenations of tricky pieces (see the resources README). */
    private static final List<String> SETS = List.of("extra", "random");

    private static Path resource(String name) {
        try {
            return Path.of(ReferenceExtraCasesTest.class.getResource("/reference-ids/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Stream<SharedTestData.Case> huggingFace(String suffix) throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String set : SETS) {
            for (String name : HF_NAMES) {
                all.addAll(SharedTestData.cases(name, resource(set + ".inp"), resource(set + "." + name + suffix)));
            }
        }
        return all.stream();
    }

    static Stream<SharedTestData.Case> plain() throws IOException {
        return huggingFace(".out");
    }

    static Stream<SharedTestData.Case> withSpecialTokensAdded() throws IOException {
        return huggingFace(".special.out");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("plain")
    void huggingFaceParsesSpecialTokensInText(SharedTestData.Case c) {
        int[] ids = SharedTestData.huggingFace(c.vocab()).encode(c.text(), new EncodeOptions(false, true));
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("withSpecialTokensAdded")
    void huggingFaceAddsPostProcessorTokens(SharedTestData.Case c) {
        int[] ids = SharedTestData.huggingFace(c.vocab()).encode(c.text(), EncodeOptions.DEFAULT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }
}
