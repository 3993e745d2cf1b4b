package dev.isthmus.tokenizers.bench;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.HuggingFaceTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Encode throughput on WikiText-2 test ({@code testdata/corpus/wiki.test.raw}, 1.29 MB), single thread:
 * Isthmus with GPT-2, Llama 3 and Qwen tokenizer.json files, and jtokkit's r50k_base (GPT-2's encoding) as
 * the pure-Java baseline. {@code whole}: the file as one text; {@code lines}: each non-empty line as its own
 * text. Each invocation encodes the whole corpus once; MB/s = 1.290547 / (ms per op / 1000), printed at
 * tear-down. Run: {@code ./mvnw -B -Pbench -pl llm-tokenizers verify -DskipTests -Djmh.args="TokenizerBenchmark -f 1 -wi 2 -i 3"}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TokenizerBenchmark {
    /** The corpus, whole and as lines. */
    @State(Scope.Benchmark)
    public static class Corpus {
        String text;
        String[] lines;

        @Setup(Level.Trial)
        public void load() throws IOException {
            text = Files.readString(shared().resolve("testdata/corpus/wiki.test.raw"), StandardCharsets.UTF_8);
            lines = Arrays.stream(text.split("\n")).filter(l -> !l.isEmpty()).toArray(String[]::new);
        }
    }

    /** An Isthmus tokenizer per tokenizer.json. */
    @State(Scope.Benchmark)
    public static class Isthmus {
        @Param({"gpt2", "llama3", "qwen3"})
        public String tokenizer;
        Tokenizer tok;

        @Setup(Level.Trial)
        public void load(Corpus corpus) throws IOException {
            tok = HuggingFaceTokenizerLoader.load(shared().resolve("testdata/tokenizers/" + tokenizer + ".tokenizer.json"));
            System.out.printf("%n[%s] %d tokens for %d bytes%n", tokenizer,
                    tok.encode(corpus.text, EncodeOptions.PLAIN_TEXT).length,
                    corpus.text.getBytes(StandardCharsets.UTF_8).length);
        }
    }

    /** jtokkit's r50k_base, GPT-2's encoding. */
    @State(Scope.Benchmark)
    public static class Jtokkit {
        Encoding encoding;

        @Setup(Level.Trial)
        public void load(Corpus corpus) {
            encoding = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
            System.out.printf("%n[jtokkit r50k_base] %d tokens%n", encoding.encodeOrdinary(corpus.text).size());
        }
    }

    static Path shared() {
        return Path.of(System.getProperty("isthmus.shared", "../shared"));
    }

    @Benchmark
    public int isthmusWhole(Corpus corpus, Isthmus isthmus) {
        return isthmus.tok.encode(corpus.text, EncodeOptions.PLAIN_TEXT).length;
    }

    @Benchmark
    public int isthmusLines(Corpus corpus, Isthmus isthmus) {
        int n = 0;
        for (String line : corpus.lines) {
            n += isthmus.tok.encode(line, EncodeOptions.PLAIN_TEXT).length;
        }
        return n;
    }

    @Benchmark
    public int jtokkitWhole(Corpus corpus, Jtokkit jtokkit) {
        return jtokkit.encoding.encodeOrdinary(corpus.text).size();
    }

    @Benchmark
    public int jtokkitLines(Corpus corpus, Jtokkit jtokkit) {
        int n = 0;
        for (String line : corpus.lines) {
            n += jtokkit.encoding.encodeOrdinary(line).size();
        }
        return n;
    }
}
