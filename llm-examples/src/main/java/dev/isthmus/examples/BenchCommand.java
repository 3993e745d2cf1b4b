package dev.isthmus.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.llm.Completion;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Session;
import dev.isthmus.core.tensor.GgmlType;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Prefill and decode speed, measured like llama-bench (pp: a batch of random prompt tokens; tg: tokens
 * generated one at a time), optionally side by side with llama.cpp's own llama-bench on the same file
 * and thread count. {@code --make-model} writes a random-weight model of realistic shape first.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill/decode tok/s, optionally against llama.cpp's llama-bench.")
final class BenchCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Option(names = {"-p", "--prompt-tokens"}, description = "prompt tokens for the prefill test (default 128)")
    int promptTokens = 128;

    @Option(names = {"-n", "--gen-tokens"}, description = "tokens for the decode test (default 64)")
    int genTokens = 64;

    @Option(names = {"-r", "--reps"}, description = "repetitions (default 3)")
    int reps = 3;

    @Option(names = {"-d", "--depth"}, description = "tokens already in the KV cache before each test, untimed "
            + "(llama-bench's -d; default 0): long-context prefill and decode")
    int depth;

    @Option(names = "--llama-bench", description = "also run ../shared/reference/ref llama-bench and print ratios")
    boolean compare;

    @Option(names = "--ref", description = "path of the reference tool (default ../shared/reference/ref)")
    Path refTool;

    @Option(names = "--make-model", description = "first write a random-weight Llama model here (see --dim …)")
    boolean makeModel;

    @Option(names = "--type", description = "with --make-model: f32, f16, bf16, q8_0 (default q8_0)")
    String type = "q8_0";

    @Option(names = "--dim", description = "with --make-model (default 2048)")
    int dim = 2048;

    @Option(names = "--ffn", description = "with --make-model (default 8192)")
    int ffn = 8192;

    @Option(names = "--layers", description = "with --make-model (default 8)")
    int layers = 8;

    @Option(names = "--heads", description = "with --make-model (default 32)")
    int heads = 32;

    @Option(names = "--kv-heads", description = "with --make-model (default 8)")
    int kvHeads = 8;

    @Option(names = "--vocab-from", description = "with --make-model: GGUF whose vocabulary to copy "
            + "(default ../shared/testdata/models/llama-2-tiny-random.gguf)")
    Path vocabFrom;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path model = modelOptions.model;
        if (makeModel) {
            Path vocab = vocabFrom != null ? vocabFrom : sharedDir().resolve("testdata/models/llama-2-tiny-random.gguf");
            GgmlType t = GgmlType.valueOf(type.toUpperCase(Locale.ROOT));
            out.printf("writing %s: llama dim %d, ffn %d, %d layers, %d/%d heads, %s ...%n", model, dim, ffn, layers,
                    heads, kvHeads, t);
            out.flush();
            SyntheticModel.write(model, vocab, new SyntheticModel.Shape(dim, ffn, layers, heads, kvHeads, 4096), t, 1);
        }
        int threads = modelOptions.threads != null ? modelOptions.threads : Runtime.getRuntime().availableProcessors();
        double[] pp = new double[reps];
        double[] tg = new double[reps];
        try (LanguageModel m = modelOptions.load()) {
            SplittableRandom random = new SplittableRandom(7);
            int vocab = m.config().vocabSize();
            int[] prompt = random.ints(promptTokens, 0, vocab).toArray();
            int[] context = random.ints(depth, 0, vocab).toArray();
            // Warm-up, one untimed repetition of both tests (as llama-bench does): the JIT compiles the prompt and
            // the decode kernels, at their final tier, before anything is timed.
            for (int r = -1; r < reps; r++) {
                double prefill = prefill(m, context, prompt);
                double decode = decode(m, context, prompt[0]);
                if (r >= 0) {
                    pp[r] = prefill;
                    tg[r] = decode;
                }
            }
            // A device backend runs the pass on its device: the host's thread count does not apply there.
            String where = m.backendName().equals("cpu") ? "threads " + threads : m.backendName();
            out.printf("isthmus  %-40s %-10s pp%d%s %8.2f ± %.2f tok/s   tg%d%s %8.2f ± %.2f tok/s%n",
                    model.getFileName(), where, promptTokens, at(), mean(pp), std(pp), genTokens, at(), mean(tg), std(tg));
        }
        if (compare) {
            double[] ref = llamaBench(model, threads);
            out.printf("llama.cpp %-39s %-10s pp%d%s %8.2f tok/s            tg%d%s %8.2f tok/s%n", model.getFileName(),
                    "threads " + threads, promptTokens, at(), ref[0], genTokens, at(), ref[1]);
            out.printf("ratio isthmus/llama.cpp: prefill %.2f, decode %.2f%n", mean(pp) / ref[0], mean(tg) / ref[1]);
        }
        return 0;
    }

    /** llama-bench's suffix for a test run at a depth, e.g. {@code @d1024}. */
    private String at() {
        return depth > 0 ? " @ d" + depth : "";
    }

    /** Prompt tokens per second, the prompt following {@code context} already in the cache (untimed). */
    private double prefill(LanguageModel m, int[] context, int[] prompt) {
        if (context.length == 0) {
            long t0 = System.nanoTime();
            m.nextTokenLogits(prompt);
            return prompt.length / ((System.nanoTime() - t0) / 1e9);
        }
        try (Session s = m.newSession()) {
            s.complete(context).maxNewTokens(0).call();
            int[] all = Arrays.copyOf(context, context.length + prompt.length);
            System.arraycopy(prompt, 0, all, context.length, prompt.length);
            // The session reuses the cached context, so the prefill time is the prompt's alone.
            Completion c = s.complete(all).maxNewTokens(0).call();
            return prompt.length / (c.prefillMillis() / 1e3);
        }
    }

    /**
     * Forward passes of one token per second after {@code context} (or one token) was prefilled, as llama-bench's
     * tg counts them: a generation of n tokens runs n − 1 passes (the first token comes from the prompt's
     * logits, the last is not fed back), so n + 1 tokens are generated for n passes.
     */
    private double decode(LanguageModel m, int[] context, int first) {
        int[] start = context.length == 0 ? new int[] {first} : context;
        Completion c = m.complete(start).maxNewTokens(genTokens + 1).ignoreEos(true).call();
        return (c.ids().length - 1) / (c.decodeMillis() / 1e3);
    }

    private Path sharedDir() {
        return Path.of(System.getProperty("isthmus.shared", "../shared"));
    }

    private double[] llamaBench(Path model, int threads) throws Exception {
        Path tool = refTool != null ? refTool : sharedDir().resolve("reference/ref");
        List<String> cmd = new ArrayList<>(List.of(tool.toString(), "llama-bench", "-m", model.toString(), "-t",
                String.valueOf(threads), "-p", String.valueOf(promptTokens), "-n", String.valueOf(genTokens), "-r",
                String.valueOf(reps), "-d", String.valueOf(depth), "-o", "json"));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("llama-bench failed: " + String.join(" ", cmd));
        }
        int start = json.indexOf('[');
        JsonNode results = new ObjectMapper().readTree(json.substring(Math.max(0, start)));
        double pp = 0;
        double tg = 0;
        for (JsonNode r : results) {
            if (r.path("n_prompt").asInt() > 0 && r.path("n_gen").asInt() == 0) {
                pp = r.path("avg_ts").asDouble();
            } else if (r.path("n_gen").asInt() > 0 && r.path("n_prompt").asInt() == 0) {
                tg = r.path("avg_ts").asDouble();
            }
        }
        return new double[] {pp, tg};
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(double[] v) {
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return v.length > 1 ? Math.sqrt(s / (v.length - 1)) : 0;
    }
}
