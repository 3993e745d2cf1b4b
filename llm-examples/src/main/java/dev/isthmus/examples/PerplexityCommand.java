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

    @Option(names = "--compare", arity = "1..*",
            description = "more models (e.g. quantizations of --model): print a quality table with Δ vs --model")
    java.util.List<Path> compare = new java.util.ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String text = Files.readString(file);
        if (!compare.isEmpty()) {
            return table(out, text);
        }
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

    /** The quantization quality table: format, bits per weight, file size, perplexity, Δ vs the first model. */
    private int table(PrintWriter out, String text) throws Exception {
        java.util.List<Path> models = new java.util.ArrayList<>();
        models.add(modelOptions.model);
        models.addAll(compare);
        out.printf("%-36s %-8s %9s %10s %11s %9s%n", "model", "type", "bits/w", "size MiB", "perplexity", "Δ");
        double base = 0;
        for (Path m : models) {
            ModelOptions o = new ModelOptions();
            o.model = m;
            o.threads = modelOptions.threads;
            o.contextLength = modelOptions.contextLength;
            o.backend = modelOptions.backend;
            String type;
            double bits;
            try (dev.isthmus.core.gguf.GgufFile g = dev.isthmus.core.gguf.GgufFile.open(m)) {
                long bytes = 0;
                long elements = 0;
                java.util.Map<dev.isthmus.core.tensor.GgmlType, Long> byType = new java.util.EnumMap<>(
                        dev.isthmus.core.tensor.GgmlType.class);
                for (var t : g.tensors()) {
                    bytes += t.byteSize();
                    elements += t.elementCount();
                    byType.merge(t.type(), t.byteSize(), Long::sum);
                }
                bits = 8.0 * bytes / Math.max(1, elements);
                type = byType.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).map(e -> e.getKey().name())
                        .orElse("?");
            }
            try (LanguageModel model = o.load()) {
                int ctx = Math.min(window, model.contextLength());
                double ppl = model.perplexity(text, ctx, chunks, bos).perplexity();
                if (base == 0) {
                    base = ppl;
                }
                out.printf("%-36s %-8s %9.2f %10.2f %11.4f %+8.2f%%%n", m.getFileName(), type, bits,
                        Files.size(m) / 1048576.0, ppl, 100 * (ppl / base - 1));
                out.flush();
            }
        }
        return 0;
    }
}
