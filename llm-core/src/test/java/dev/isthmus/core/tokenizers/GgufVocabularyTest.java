package dev.isthmus.core.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.testing.SharedTestData;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tokenizers built from the vocabularies inside GGUF files (the path llm-core uses) against llama.cpp's
 * vectors and against extra ids made with {@code ref tokenize} (see src/test/resources/reference-ids).
 */
class GgufVocabularyTest {
    /** Vector vocabulary → the GGUF model that carries it. */
    private static final Map<String, String> MODELS = new TreeMap<>(Map.of(
            "llama-spm", "llama-2-tiny-random", "gpt-2", "synth-gpt2", "qwen2", "synth-qwen2",
            "bert-bge", "all-minilm-l6-v2-f16"));
    private static final Map<String, Tokenizer> LOADED = new ConcurrentHashMap<>();

    record Case(String vocab, String set, int index, String text, int[] ids) {
        @Override
        public String toString() {
            return vocab + " " + set + "#" + index;
        }
    }

    static Tokenizer tokenizer(String vocab) {
        return LOADED.computeIfAbsent(vocab, v -> {
            try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/" + MODELS.get(v) + ".gguf"))) {
                return GgufTokenizerLoader.fromMetadata(gguf.metadata());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static List<String> texts(String raw) {
        List<String> parts = new ArrayList<>(Arrays.asList(raw.split("\n__ggml_vocab_test__\n", -1)));
        if (!parts.isEmpty() && parts.getLast().isEmpty()) {
            parts.removeLast();
        }
        return parts;
    }

    static List<int[]> ids(List<String> lines) {
        List<int[]> out = new ArrayList<>();
        for (String line : lines) {
            String t = line.trim();
            out.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split("\\s+")).mapToInt(Integer::parseInt).toArray());
        }
        return out;
    }

    static List<Case> pair(String vocab, String set, String inp, List<String> outLines) {
        List<String> t = texts(inp);
        List<int[]> i = ids(outLines);
        if (t.size() != i.size()) {
            throw new IllegalStateException(set + " for " + vocab + ": " + t.size() + " texts, " + i.size() + " id lines");
        }
        List<Case> cases = new ArrayList<>();
        for (int k = 0; k < t.size(); k++) {
            cases.add(new Case(vocab, set, k, t.get(k), i.get(k)));
        }
        return cases;
    }

    static Stream<Case> vectors() throws IOException {
        List<Case> all = new ArrayList<>();
        for (String vocab : MODELS.keySet()) {
            Path inp = SharedTestData.testdata("vectors/" + vocab + ".inp");
            Path out = SharedTestData.testdata("vectors/" + vocab + ".out");
            all.addAll(pair(vocab, "vectors", Files.readString(inp), Files.readAllLines(out)));
        }
        return all.stream();
    }

    private static String resource(String name) {
        try (InputStream in = GgufVocabularyTest.class.getResourceAsStream("/reference-ids/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Stream<Case> extra(String suffix) {
        List<Case> all = new ArrayList<>();
        for (String set : List.of("extra", "random")) {
            for (var e : MODELS.entrySet()) {
                List<String> lines = resource(set + "." + e.getValue() + suffix).lines().toList();
                all.addAll(pair(e.getKey(), set, resource(set + ".inp"), lines));
            }
        }
        return all.stream();
    }

    static Stream<Case> extraPlain() {
        return extra(".out");
    }

    static Stream<Case> extraSpecial() {
        return extra(".special.out");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void llamaCppVectorsFromTheGgufVocabulary(Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), EncodeOptions.PLAIN_TEXT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void decodeGivesTheVectorTextBack(Case c) {
        assumeTrue(!c.vocab().equals("bert-bge"), "WordPiece lower-cases and drops spaces: not lossless");
        assertThat(tokenizer(c.vocab()).decode(c.ids())).as("decode of %s", c).isEqualTo(c.text());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("extraPlain")
    void specialTokenTextStaysTextWhenNotParsed(Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), EncodeOptions.PLAIN_TEXT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("extraSpecial")
    void specialTokenTextIsParsedWhenAsked(Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), new EncodeOptions(false, true));
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    /** llama.cpp's StarCoder/SmolLM split (each digit alone) on the GPT-2 vocabulary, against ids made with ref tokenize. */
    @org.junit.jupiter.api.Test
    void digitIsolatingPreTokenizerMatchesLlamaCpp() throws Exception {
        Tokenizer smollm;
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/synth-gpt2.gguf"))) {
            Map<String, Object> metadata = new java.util.HashMap<>(gguf.metadata());
            metadata.put("tokenizer.ggml.pre", "smollm");
            smollm = GgufTokenizerLoader.fromMetadata(metadata);
        }
        List<Case> cases = pair("gpt-2", "smollm", Files.readString(SharedTestData.testdata("vectors/gpt-2.inp")),
                resource("vectors-gpt-2.smollm.out").lines().toList());
        assertThat(cases).hasSize(46);
        for (Case c : cases) {
            int[] ids = smollm.encode(c.text(), EncodeOptions.PLAIN_TEXT);
            assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
        }
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {" ", "a", "\n", "🦙"})
    void sentencePieceLongRunsAreNotQuadratic(String unit) {
        Tokenizer tok = tokenizer("llama-spm");
        String text = unit.repeat(100_000);
        int[] ids = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> tok.encode(text, EncodeOptions.PLAIN_TEXT));
        assertThat(tok.decode(ids)).as("round trip of %s x 100000", unit.replace("\n", "\\n")).isEqualTo(text);
    }

    @org.junit.jupiter.api.Test
    void sentencePieceTenMegabytesEncodeWithinSeconds() {
        Tokenizer tok = tokenizer("llama-spm");
        String text = "The quick brown fox, 12345 jumps; über 東京 🦙\n\t ".repeat(220_000);
        int[] ids = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                () -> tok.encode(text, EncodeOptions.PLAIN_TEXT));
        assertThat(tok.decode(ids)).as("round trip of %d chars", text.length()).isEqualTo(text);
    }
}
