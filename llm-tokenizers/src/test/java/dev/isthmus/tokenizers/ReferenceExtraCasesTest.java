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
 */
class ReferenceExtraCasesTest {
    private static final List<String> HF_NAMES = List.of("gpt2", "llama3", "qwen3", "all-minilm-l6-v2");

    private static Path resource(String name) {
        try {
            return Path.of(ReferenceExtraCasesTest.class.getResource("/reference-ids/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<SharedTestData.Case> plain() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String name : HF_NAMES) {
            all.addAll(SharedTestData.cases(name, resource("extra.inp"), resource("extra." + name + ".out")));
        }
        return all.stream();
    }

    static Stream<SharedTestData.Case> withSpecialTokensAdded() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String name : HF_NAMES) {
            all.addAll(SharedTestData.cases(name, resource("extra.inp"), resource("extra." + name + ".special.out")));
        }
        return all.stream();
    }

    static Stream<SharedTestData.Case> spmPlain() throws IOException {
        return SharedTestData.cases("llama-spm", resource("extra.inp"), resource("extra.llama-2-tiny-random.out")).stream();
    }

    static Stream<SharedTestData.Case> spmSpecialParsed() throws IOException {
        return SharedTestData.cases("llama-spm", resource("extra.inp"),
                resource("extra.llama-2-tiny-random.special.out")).stream();
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

    @ParameterizedTest(name = "{0}")
    @MethodSource("spmPlain")
    void sentencePieceKeepsSpecialTokenTextAsText(SharedTestData.Case c) {
        int[] ids = GgufMetadataVectorTest.tokenizer(c.vocab()).encode(c.text(), EncodeOptions.PLAIN_TEXT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("spmSpecialParsed")
    void sentencePieceParsesSpecialTokens(SharedTestData.Case c) {
        int[] ids = GgufMetadataVectorTest.tokenizer(c.vocab()).encode(c.text(), new EncodeOptions(false, true));
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }
}
