package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vector files through {@link GgufTokenizerLoader}, from a JSON dump of a GGUF's {@code tokenizer.*}
 * metadata named by a system property (e.g. {@code -Disthmus.spmVocabJson=/tmp/llama2.json} for the
 * vocabulary of {@code testdata/models/llama-2-tiny-random.gguf}). llm-core reads the GGUF files themselves;
 * this module has no GGUF reader, so without a dump these tests are skipped.
 */
class GgufMetadataVectorTest {
    /** Vector file to the system property naming its metadata dump. */
    private static final Map<String, String> PROPERTIES = Map.of(
            "llama-spm", "isthmus.spmVocabJson",
            "gpt-2", "isthmus.gpt2VocabJson",
            "qwen2", "isthmus.qwen2VocabJson",
            "bert-bge", "isthmus.bertVocabJson");
    private static final Map<String, Tokenizer> LOADED = new ConcurrentHashMap<>();

    static Stream<SharedTestData.Case> vectors() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String vocab : List.of("llama-spm", "gpt-2", "qwen2", "bert-bge")) {
            all.addAll(SharedTestData.vectors(vocab));
        }
        return all.stream();
    }

    static Tokenizer tokenizer(String vocab) {
        String property = PROPERTIES.get(vocab);
        String file = System.getProperty(property);
        assumeTrue(file != null && Files.isRegularFile(Path.of(file)), () -> "no GGUF metadata dump for " + vocab
                + ": set -D" + property + "=<json of the GGUF's tokenizer.* keys>");
        return LOADED.computeIfAbsent(vocab, v -> {
            try {
                Map<String, Object> metadata = new ObjectMapper().readValue(Path.of(file).toFile(),
                        new TypeReference<Map<String, Object>>() { });
                return GgufTokenizerLoader.fromMetadata(metadata);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void encodesVectorTextToReferenceIds(SharedTestData.Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), EncodeOptions.PLAIN_TEXT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void decodeGivesTextBack(SharedTestData.Case c) {
        Tokenizer tok = tokenizer(c.vocab());
        assumeTrue(!c.vocab().equals("bert-bge"), "WordPiece lower-cases and drops spaces: not lossless");
        assertThat(tok.decode(c.ids())).as("decode of the reference ids of %s", c).isEqualTo(c.text());
    }
}
