package dev.isthmus.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.PerplexityResult;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Perplexity of a text file, computed as llama.cpp's llama-perplexity does. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = "Perplexity of a text file (llama-perplexity's method).")
final class PerplexityCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Option(names = {"-f", "--file"}, required = true, description = "the text file")
    Path file;

    @Option(names = "--window", description = "tokens per window (default 512, capped at the context)")
    int window = 512;

    @Option(names = "--chunks", description = "windows to score at most (default: all)")
    int chunks;

    @Option(names = "--bos", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "BOS at each window start (default: on)")
    boolean bos;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String text = Files.readString(file);
        try (LanguageModel model = modelOptions.load()) {
            int ctx = Math.min(window, model.contextLength());
            long start = System.nanoTime();
            PerplexityResult r = model.perplexity(text, ctx, chunks, bos);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("model", modelOptions.model.toString());
                m.put("ctx", ctx);
                m.put("chunks", r.runningPerplexity().length);
                m.put("bos", bos);
                m.put("tokens_scored", r.tokensScored());
                m.put("perplexity", r.perplexity());
                m.put("running_perplexity", r.runningPerplexity());
                m.put("seconds", seconds);
                out.println(new ObjectMapper().writeValueAsString(m));
            } else {
                for (int i = 0; i < r.runningPerplexity().length; i++) {
                    out.printf("[%d]%.4f%s", i + 1, r.runningPerplexity()[i], (i + 1) % 10 == 0 ? "\n" : ",");
                }
                out.printf("%nFinal estimate: PPL = %.4f over %d tokens (%d windows of %d) in %.1f s%n", r.perplexity(),
                        r.tokensScored(), r.runningPerplexity().length, ctx, seconds);
            }
        }
        return 0;
    }
}
