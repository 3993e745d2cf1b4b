package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every multi-token group kernel reaches C2 in a JVM that runs it. A written-out Q8_0 kernel was once too big for
 * C1 ("out of virtual registers in LIR generator"); the JVM then kept it in its first, unoptimised tier for good,
 * where each Vector API call allocates, and a 16-token prompt ran 250 times slower — with every result right, so
 * no other test saw it. A child JVM runs the kernels under {@code -XX:+PrintCompilation} until each kernel
 * method too big to be inlined ({@code dot}, {@code dotTokens}) has a C2 (tier 4) compilation; no method of ours
 * may be skipped by a compiler.
 */
class KernelCompilationTest {
    private static final GgmlType[] TYPES = {GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
        GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
        GgmlType.IQ4_NL, GgmlType.IQ4_XS};
    /** A compilation at tier 4 (C2) of one of our methods, OSR or not. */
    private static final Pattern C2 = Pattern.compile("\\s4\\s+(dev\\.isthmus\\.[\\w.$]+)::(\\w+)\\s");
    private static final Pattern SKIPPED = Pattern.compile("(dev\\.isthmus\\.[\\w.$]+::\\w+).*COMPILE SKIPPED: (.*)");

    @Test
    void everyKernelTooBigToInlineIsCompiledByC2() throws Exception {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        Set<String> expected = new TreeSet<>();
        for (GgmlType type : TYPES) {
            Class<?> layout = BlockFormats.require(type).rowGroups().orElseThrow().getClass();
            // Kernels past FreqInlineSize are compiled on their own, never inlined into a caller: each must get
            // its own C2 compilation. (A smaller dot hands its work to methods of its own.)
            if (KernelInliningTest.bytecodes(layout, "dot") > KernelInliningTest.FREQ_INLINE_SIZE) {
                expected.add(layout.getName() + "::dot");
            }
            if (KernelInliningTest.bytecodes(layout, "dotTokens") > KernelInliningTest.FREQ_INLINE_SIZE) {
                expected.add(layout.getName() + "::dotTokens");
            }
        }
        assertThat(expected).as("kernels too big to inline").contains(IQ4_NLRowGroups.class.getName() + "::dotTokens");

        String launcher = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(launcher, "--add-modules", "jdk.incubator.vector", "-XX:+PrintCompilation",
                "-cp", System.getProperty("java.class.path"), Exercise.class.getName())
                .redirectErrorStream(true).start();
        // A child that goes quiet before every kernel is compiled would block the read below: it is killed after
        // three minutes, which ends its output.
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                if (!child.waitFor(3, TimeUnit.MINUTES)) {
                    child.destroyForcibly();
                }
            } catch (InterruptedException e) {
                child.destroyForcibly();
            }
        });
        Set<String> compiled = new TreeSet<>();
        List<String> skipped = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                Matcher c2 = C2.matcher(line);
                if (c2.find()) {
                    compiled.add(c2.group(1) + "::" + c2.group(2));
                }
                Matcher skip = SKIPPED.matcher(line);
                // Class loading that races a compilation is retried; anything else leaves the method uncompiled.
                if (skip.find() && !skip.group(2).startsWith("concurrent class loading")) {
                    skipped.add(line.strip());
                }
                if (compiled.containsAll(expected)) {
                    break;
                }
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
            watchdog.interrupt();
        }
        assertThat(skipped).as("compilations of our methods that a compiler gave up on").isEmpty();
        assertThat(compiled).as("methods compiled by C2 within three minutes").containsAll(expected);
    }

    /** The child JVM: every layout's one-token and multi-token kernels, round after round, until it is killed. */
    static final class Exercise {
        private static final int ROWS = 64;
        private static final int COLS = 512;

        public static void main(String[] args) {
            Arena arena = Arena.ofConfined();
            SplittableRandom random = new SplittableRandom(7);
            int n = TYPES.length;
            RowGroupLayout[] layouts = new RowGroupLayout[n];
            MemorySegment[] packed = new MemorySegment[n];
            QuantizedActivations[] activations = new QuantizedActivations[n];
            for (int k = 0; k < n; k++) {
                BlockFormat format = BlockFormats.require(TYPES[k]);
                layouts[k] = format.rowGroups().orElseThrow();
                Tensor w = Tensor.allocate("w", TYPES[k], arena, ROWS, COLS);
                float[] row = new float[COLS];
                for (int r = 0; r < ROWS; r++) {
                    for (int i = 0; i < COLS; i++) {
                        row[i] = (float) random.nextGaussian();
                    }
                    format.quantize(row, 0, w.segment(), w.rowOffset(r), COLS);
                }
                packed[k] = RowGroupChecks.pack(layouts[k], arena, w);
                int tokens = layouts[k].tokensPerCall();
                float[] x = new float[tokens * COLS];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) random.nextGaussian();
                }
                activations[k] = new QuantizedActivations();
                layouts[k].quantizeActivations(x, 0, x.length, activations[k]);
            }
            float[] out = new float[8 * ROWS];
            float sink = 0;
            while (true) {
                for (int k = 0; k < n; k++) {
                    RowGroupLayout layout = layouts[k];
                    long groupBytes = layout.groupBytes(COLS);
                    for (int g = 0; g < ROWS / layout.rows(); g++) {
                        layout.dot(packed[k], g * groupBytes, activations[k], 0, COLS, out, g * layout.rows());
                        layout.dotTokens(packed[k], g * groupBytes, activations[k], 0, COLS, layout.tokensPerCall(),
                                out, g * layout.rows(), ROWS);
                    }
                    sink += out[0];
                }
                if (sink == Float.MIN_VALUE) {
                    System.out.println(sink);
                }
            }
        }
    }
}
