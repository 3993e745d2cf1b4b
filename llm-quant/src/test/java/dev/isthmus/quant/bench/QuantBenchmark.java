package dev.isthmus.quant.bench;

import dev.isthmus.core.backend.cpu.CpuBackend;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Matrix × vector (decode) per format, one thread: a 4096 × 4096 weight matrix (8–28 MB, beyond the
 * caches, so weights stream from memory) times one activation vector. The {@code gbPerS} counter is
 * weight bytes streamed per second; {@code gflops} counts 2 flops per weight and activation vector
 * ({@code dequantize4} reports only bytes). {@code prefill64} is the prefill shape: 64 activation vectors
 * through the CPU backend on one thread, as a prompt's projection runs there (weights prepared, decoded into
 * panels, float tiles), in GFLOP/s; {@code prompt16} the shape of a short prompt (16 vectors, through the row
 * groups' multi-token kernels). {@code quantize} runs the format's encoder (llama.cpp's reference quantizer,
 * byte for byte) over 16 rows of Gaussian weights, in millions of weights per second ({@code mWeights}).
 *
 * <pre>{@code
 * ./mvnw -B -Pbench -pl llm-quant verify -DskipTests -Djmh.args="QuantBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s"
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class QuantBenchmark {
    static final int ROWS = 4096;
    static final int COLS = 4096;

    @Param({"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    public String type;

    private Arena arena;
    private MemorySegment weights;
    /** Where {@link #quantize} writes. */
    private MemorySegment encoded;
    private BlockFormat format;
    private long rowBytes;
    private final float[] x = new float[COLS];
    private final float[] y = new float[ROWS];
    /** Four decoded rows, as the CPU backend's batched (prefill) path decodes them before its float kernel. */
    private final float[] rows4 = new float[4 * COLS];
    private final QuantizedActivations quantized = new QuantizedActivations();
    private static final int PREFILL_TOKENS = 64;
    private static final int SHORT_PROMPT_TOKENS = 16;
    private final float[] xs = new float[PREFILL_TOKENS * COLS];
    private final float[] ys = new float[PREFILL_TOKENS * ROWS];
    private CpuBackend backend;
    private Tensor tensor;

    /** Per-iteration rates: JMH divides these by the iteration time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Streamed {
        public double gbPerS;
        public double gflops;
        public double mWeights;

        @Setup(Level.Iteration)
        public void reset() {
            gbPerS = 0;
            gflops = 0;
            mWeights = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        GgmlType t = GgmlType.valueOf(type);
        format = BlockFormats.require(t);
        rowBytes = t.byteSize(COLS);
        arena = Arena.ofShared();
        weights = arena.allocate(rowBytes * ROWS, 64);
        encoded = arena.allocate(rowBytes * QUANTIZE_ROWS, 64);
        SplittableRandom r = new SplittableRandom(1);
        float[] row = new float[COLS];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < COLS; j++) {
                row[j] = (float) r.nextGaussian();
            }
            format.quantize(row, 0, weights, i * rowBytes, COLS);
        }
        for (int j = 0; j < COLS; j++) {
            x[j] = (float) r.nextGaussian();
        }
        for (int j = 0; j < xs.length; j++) {
            xs[j] = (float) r.nextGaussian();
        }
        pack();
        tensor = Tensor.of("w", t, weights, ROWS, COLS);
        backend = new CpuBackend(1);
        backend.prepare(tensor);
    }

    private RowGroupLayout groups;
    private MemorySegment grouped;

    private void pack() {
        Tensor w = Tensor.of("w", GgmlType.valueOf(type), weights, ROWS, COLS);
        groups = format.rowGroups().filter(l -> l.canPack(w)).orElse(null);
        if (groups != null) {
            grouped = arena.allocate(groups.packedBytes(w), 64);
            for (int g = 0; g < ROWS / groups.rows(); g++) {
                groups.pack(w, g * groups.rows(), grouped, g * groups.groupBytes(COLS));
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }

    @Benchmark
    public float[] matvec(Streamed counters) {
        for (int i = 0; i < ROWS; i++) {
            y[i] = format.dot(weights, i * rowBytes, x, 0, COLS);
        }
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 2.0 * ROWS * COLS / 1e9;
        return y;
    }

    /**
     * Decode as the CPU backend runs it: activations quantized once, then every row through the format's
     * integer kernel (formats without one fall back to {@link #matvec}'s float kernel).
     */
    @Benchmark
    public float[] matvecQuantized(Streamed counters) {
        if (!format.quantizesActivations()) {
            return matvec(counters);
        }
        format.quantizeActivations(x, 0, COLS, quantized);
        for (int i = 0; i < ROWS; i++) {
            y[i] = format.dotQuantized(weights, i * rowBytes, quantized, 0, COLS);
        }
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 2.0 * ROWS * COLS / 1e9;
        return y;
    }

    /**
     * Decode on weights copied into the format's row-group layout, as the CPU backend stores them after
     * {@code prepare} (formats without one fall back to {@link #matvecQuantized}).
     */
    @Benchmark
    public float[] matvecGroups(Streamed counters) {
        if (groups == null) {
            return matvecQuantized(counters);
        }
        groups.quantizeActivations(x, 0, COLS, quantized);
        long groupBytes = groups.groupBytes(COLS);
        for (int g = 0; g < ROWS / groups.rows(); g++) {
            groups.dot(grouped, g * groupBytes, quantized, 0, COLS, y, g * groups.rows());
        }
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 2.0 * ROWS * COLS / 1e9;
        return y;
    }

    /** Prefill-shaped: 64 activation vectors through the CPU backend (one thread); 2 × rows × cols × 64 flops. */
    @Benchmark
    public float[] prefill64(Streamed counters) {
        backend.matmul(tensor, xs, ys, PREFILL_TOKENS);
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 2.0 * ROWS * COLS * PREFILL_TOKENS / 1e9;
        return ys;
    }

    /**
     * A short prompt's shape: 16 activation vectors through the CPU backend (one thread), below the panels'
     * batch size, so through the row groups' multi-token kernels ({@code RowGroupLayout.dotTokens}) where a
     * format has them; 2 × rows × cols × 16 flops.
     */
    @Benchmark
    public float[] prompt16(Streamed counters) {
        backend.matmul(tensor, xs, ys, SHORT_PROMPT_TOKENS);
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 2.0 * ROWS * COLS * SHORT_PROMPT_TOKENS / 1e9;
        return ys;
    }

    /** The encoder on {@value #QUANTIZE_ROWS} rows of {@value #COLS} Gaussian weights, one thread. */
    @Benchmark
    public MemorySegment quantize(Streamed counters) {
        for (int i = 0; i < QUANTIZE_ROWS; i++) {
            format.quantize(xs, i * COLS, encoded, i * rowBytes, COLS);
        }
        counters.mWeights += QUANTIZE_ROWS * COLS / 1e6;
        return encoded;
    }

    private static final int QUANTIZE_ROWS = 16;

    /** Decodes the whole matrix four rows at a time (the prefill path's share of work per weight). */
    @Benchmark
    public float[] dequantize4(Streamed counters) {
        for (int i = 0; i < ROWS; i += 4) {
            format.dequantize(weights, i * rowBytes, rows4, 0, 4 * COLS);
        }
        counters.gbPerS += rowBytes * ROWS / 1e9;
        counters.gflops += 0;
        return rows4;
    }
}
