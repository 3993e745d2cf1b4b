package dev.isthmus.tokenizers;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The project's shared reference data ({@code ../shared}, or the {@code isthmus.shared} system property that
 * Surefire sets). Tests that need it are skipped, with a message, when it is absent.
 */
final class SharedTestData {
    /** A text of a vector file and the ids the reference tokenizer gives for it. */
    record Case(String vocab, int index, String text, int[] ids) {
        @Override
        public String toString() {
            String shown = text.length() > 40 ? text.substring(0, 40) + "..." : text;
            return vocab + "#" + index + " " + shown.replace("\n", "\\n").replace("\t", "\\t");
        }
    }

    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

    private SharedTestData() {
    }

    static Path root() {
        String property = System.getProperty("isthmus.shared");
        return property != null ? Path.of(property) : Path.of("..", "shared");
    }

    /** A file under the shared folder; skips the calling test when it is not there. */
    static Path require(String relative) {
        Path p = root().resolve(relative);
        assumeTrue(Files.isRegularFile(p), () -> "shared test data not found: " + p.toAbsolutePath()
                + " (set -Disthmus.shared or check out ../shared)");
        return p;
    }

    /** A tokenizer.json under testdata/tokenizers, loaded once per test run. */
    static Tokenizer huggingFace(String name) {
        Path json = require("testdata/tokenizers/" + name + ".tokenizer.json");
        return TOKENIZERS.computeIfAbsent(name, n -> {
            try {
                return HuggingFaceTokenizerLoader.load(json);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    /** Texts of an {@code .inp} file: separated by the llama.cpp marker, a trailing empty part dropped. */
    static List<String> readInp(Path inp) throws IOException {
        String raw = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> parts = new ArrayList<>(Arrays.asList(raw.split("\n__ggml_vocab_test__\n", -1)));
        if (!parts.isEmpty() && parts.getLast().isEmpty()) {
            parts.removeLast();
        }
        return parts;
    }

    /** Id lines of an {@code .out} file. */
    static List<int[]> readOut(Path out) throws IOException {
        List<int[]> result = new ArrayList<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            String t = line.trim();
            result.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split("\\s+")).mapToInt(Integer::parseInt).toArray());
        }
        return result;
    }

    /** Pairs the texts of {@code base.inp} with the ids of {@code base.out}. */
    static List<Case> cases(String vocab, Path inp, Path out) throws IOException {
        List<String> texts = readInp(inp);
        List<int[]> ids = readOut(out);
        if (texts.size() != ids.size()) {
            throw new IllegalStateException(inp + " has " + texts.size() + " texts but " + out + " has " + ids.size() + " lines");
        }
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            cases.add(new Case(vocab, i, texts.get(i), ids.get(i)));
        }
        return cases;
    }

    static List<Case> vectors(String vocab) throws IOException {
        return cases(vocab, require("testdata/vectors/" + vocab + ".inp"), require("testdata/vectors/" + vocab + ".out"));
    }
}
