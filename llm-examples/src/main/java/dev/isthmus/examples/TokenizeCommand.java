package dev.isthmus.examples;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.HuggingFaceTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Tokenizes the texts of a llama.cpp vector file ({@code .inp}: texts separated by
 * {@code \n__ggml_vocab_test__\n}) and prints one line of ids per text in the {@code .out} format, so the
 * output can be compared with {@code ref hf-tokenize} / {@code ref tokenize} line for line.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Print token ids of each text of an .inp file, one line per text (.out format),",
                "or with --decode turn lines of ids back into texts (.inp format)."})
final class TokenizeCommand implements Callable<Integer> {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    /** Exactly one vocabulary source. */
    static final class Source {
        @Option(names = "--tokenizer", description = "a Hugging Face tokenizer.json")
        Path tokenizerJson;

        @Option(names = "--model", description = "a GGUF model file (its tokenizer.ggml.* metadata)")
        Path model;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--config", description = "tokenizer_config.json beside --tokenizer (BOS/EOS names, add_bos_token)")
    Path config;

    @Option(names = "--input", required = true, description = "texts (.inp format), or lines of ids with --decode")
    Path input;

    @Option(names = "--special", description = {"as the reference tools do: with --tokenizer, add the post-processor's",
            "tokens (special-token text is always parsed, as in Hugging Face); with --model, parse special-token text"})
    boolean special;

    @Option(names = "--decode", description = "read lines of ids and print their texts separated as in .inp files")
    boolean decode;

    @Option(names = "--output", description = "write to this file (UTF-8) instead of standard output")
    Path output;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        Tokenizer tokenizer = load();
        try (Writer file = output == null ? null : Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            PrintWriter out = file == null ? spec.commandLine().getOut() : new PrintWriter(file);
            write(tokenizer, out);
            out.flush();
        }
        return 0;
    }

    private void write(Tokenizer tokenizer, PrintWriter out) throws IOException {
        if (decode) {
            for (String line : Files.readAllLines(input, StandardCharsets.UTF_8)) {
                out.print(tokenizer.decode(parseIds(line)));
                out.print(SEPARATOR);
            }
        } else {
            EncodeOptions options = source.model != null
                    ? new EncodeOptions(false, special)
                    : new EncodeOptions(special, true);
            for (String text : splitInp(Files.readString(input, StandardCharsets.UTF_8))) {
                StringBuilder line = new StringBuilder();
                for (int id : tokenizer.encode(text, options)) {
                    line.append(' ').append(id);
                }
                out.print(line.append('\n'));
            }
        }
    }

    private Tokenizer load() throws IOException {
        if (source.tokenizerJson != null) {
            return HuggingFaceTokenizerLoader.load(source.tokenizerJson, config);
        }
        try (GgufFile gguf = GgufFile.open(source.model)) {
            return GgufTokenizerLoader.fromMetadata(gguf.metadata());
        }
    }

    /** Texts of an .inp file; a trailing empty part (after the last separator) is not a text. */
    static List<String> splitInp(String raw) {
        List<String> parts = new ArrayList<>(Arrays.asList(raw.split(SEPARATOR, -1)));
        if (!parts.isEmpty() && parts.getLast().isEmpty()) {
            parts.removeLast();
        }
        return parts;
    }

    private static int[] parseIds(String line) {
        String t = line.trim();
        if (t.isEmpty()) {
            return new int[0];
        }
        try {
            return Arrays.stream(t.split("\\s+")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a line of token ids: " + line, e);
        }
    }
}
