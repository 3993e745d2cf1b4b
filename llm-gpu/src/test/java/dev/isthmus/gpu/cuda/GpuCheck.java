package dev.isthmus.gpu.cuda;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.llm.Completion;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.sampling.Samplers;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The GPU acceptance check run by {@code llm-gpu/gpu-check.sh}: every kernel against the CPU backend on
 * random weights, then each decoder model in a folder greedily on both backends, the GPU running the whole
 * forward pass ({@link CudaForward}). Models with float activations must give identical ids and logits within
 * 1e-2 relative; models whose activations are rounded to 8-bit blocks within 5e-2, with identical ids only
 * where the model is trained (not random synth weights) — last-bit differences flip rounding levels, see
 * {@code CudaForwardEmulatedTest}. Prints one line per check; exits 1 if any fails, 2 if CUDA is unavailable.
 *
 * <pre>{@code
 * java -cp ... dev.isthmus.gpu.cuda.GpuCheck ../shared/testdata/models
 * }</pre>
 */
public final class GpuCheck {
    static final double LOGIT_TOLERANCE = 1e-2;
    static final double QUANTIZED_LOGIT_TOLERANCE = 5e-2;
    static final int NEW_TOKENS = 32;

    private GpuCheck() {
    }

    public static void main(String[] args) throws IOException {
        CudaProbe probe = CudaProbe.system();
        System.out.println("probe: " + probe);
        if (!probe.available()) {
            System.out.println("FAIL cuda unavailable: " + probe.reason());
            System.exit(2);
        }
        int failures = kernels();
        if (args.length > 0) {
            failures += models(Path.of(args[0]));
        }
        System.out.println(failures == 0 ? "ALL PASSED" : failures + " FAILED");
        System.exit(failures == 0 ? 0 : 1);
    }

    private static int kernels() {
        int failures = 0;
        try (Backend cpu = Backends.create("cpu", 4); Backend cuda = Backends.create("cuda", 1)) {
            System.out.println("device: " + cuda);
            System.out.printf("device copy bandwidth: %.1f GB/s (cuMemcpyDtoD, read + write)%n",
                    copyBandwidth(((CudaBackend) cuda).context()) / 1e9);
            for (GgmlType type : List.of(GgmlType.F32, GgmlType.F16, GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K,
                    GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.BF16, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.IQ4_NL,
                    GgmlType.IQ4_XS)) {
                for (int batch : new int[] {1, 7, 64}) {
                    double error = MatmulComparison.compare(cpu, cuda, type, 256, 1024, batch);
                    boolean ok = error < MatmulComparison.tolerance(type, 1e-4);
                    failures += ok ? 0 : 1;
                    System.out.printf("%s kernel %-6s batch %-3d rel.err %.2e%n", ok ? "PASS" : "FAIL", type, batch, error);
                }
            }
        }
        return failures;
    }

    /**
     * Bytes moved per second by device-to-device copies of 1 GiB (each copy reads and writes every byte),
     * the yardstick for decode speed: decode reads every weight once per token.
     */
    static double copyBandwidth(CudaContext context) {
        long bytes = 1L << 30;
        try (DeviceBuffer a = context.allocate(bytes, "bandwidth a"); DeviceBuffer b = context.allocate(bytes, "bandwidth b")) {
            context.copy(a, b, bytes);
            context.synchronize();
            int reps = 20;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                context.copy(a, b, bytes);
            }
            context.synchronize();
            return 2.0 * bytes * reps / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static int models(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".gguf"))
                    .filter(p -> !p.getFileName().toString().startsWith("all-minilm")) // encoders: not decoders
                    .sorted().toList();
        }
        int failures = 0;
        for (Path file : files) {
            try {
                failures += model(file) ? 0 : 1;
            } catch (RuntimeException | IOException e) {
                failures++;
                System.out.println("FAIL model " + file.getFileName() + ": " + e);
            }
        }
        return failures;
    }

    /** Whether the model's projections meet activations rounded to 8-bit blocks (any quantized format). */
    static boolean quantizedActivations(Path file) throws IOException {
        try (dev.isthmus.core.gguf.GgufFile g = dev.isthmus.core.gguf.GgufFile.open(file)) {
            return g.tensors().stream().filter(t -> t.name().startsWith("blk.") && t.ggufDims().length == 2)
                    .map(t -> DeviceRounding.of(t.type()).orElse(DeviceRounding.NONE))
                    .anyMatch(r -> r == DeviceRounding.Q8_0 || r == DeviceRounding.Q8_K);
        }
    }

    private static boolean model(Path file) throws IOException {
        String prompt = "Once upon a time";
        boolean quantized = quantizedActivations(file);
        boolean random = file.getFileName().toString().startsWith("synth-")
                || file.getFileName().toString().contains("random");
        try (LanguageModel cpu = Llm.builder().model(file).backend("cpu").threads(4).contextLength(256).build();
             LanguageModel gpu = Llm.builder().model(file).backend("cuda").contextLength(256).build()) {
            Completion a = cpu.complete(prompt).sampler(Samplers.greedy()).maxNewTokens(NEW_TOKENS).ignoreEos(true).call();
            long t0 = System.nanoTime();
            Completion b = gpu.complete(prompt).sampler(Samplers.greedy()).maxNewTokens(NEW_TOKENS).ignoreEos(true).call();
            double seconds = (System.nanoTime() - t0) / 1e9;
            int[] all = concat(a.promptIds(), a.ids());
            double error = MatmulComparison.relativeError(cpu.nextTokenLogits(all), gpu.nextTokenLogits(all));
            boolean same = Arrays.equals(a.ids(), b.ids());
            boolean ok = (same || (quantized && random))
                    && error <= (quantized ? QUANTIZED_LOGIT_TOLERANCE : LOGIT_TOLERANCE);
            System.out.printf("%s model %-32s ids %s, logits rel.err %.2e, gpu %.2f s%n", ok ? "PASS" : "FAIL",
                    file.getFileName(), same ? "identical" : (ok ? "differ (tolerated: random weights, 8-bit activations) cpu=" : "DIFFER cpu=") + Arrays.toString(a.ids()) + " gpu="
                            + Arrays.toString(b.ids()), error, seconds);
            return ok;
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
