package dev.isthmus.core.bench;

import dev.isthmus.core.backend.cpu.CpuBackend;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Matrix × vector (decode) and matrix × matrix (prefill) through the CPU backend for the core formats.
 * Weight bytes streamed per second = bytes of the matrix ÷ time per matvec (see the README for how to
 * turn the reported time into GB/s and tok/s).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MatmulBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0"})
    public String type;

    @Param({"2"})
    public int threads;

    private static final int ROWS = 4096;
    private static final int COLS = 4096;
    private static final int BATCH = 64;

    private Arena arena;
    private Tensor weights;
    private CpuBackend backend;
    private float[] x;
    private float[] y;
    private float[] xs;
    private float[] ys;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        GgmlType t = GgmlType.valueOf(type);
        BlockFormat f = BlockFormats.require(t);
        weights = Tensor.allocate("w", t, arena, ROWS, COLS);
        SplittableRandom r = new SplittableRandom(1);
        float[] row = new float[COLS];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < COLS; j++) {
                row[j] = (float) r.nextGaussian();
            }
            f.quantize(row, 0, weights.segment(), weights.rowOffset(i), COLS);
        }
        x = new float[COLS];
        for (int j = 0; j < COLS; j++) {
            x[j] = (float) r.nextGaussian();
        }
        xs = new float[BATCH * COLS];
        for (int j = 0; j < xs.length; j++) {
            xs[j] = (float) r.nextGaussian();
        }
        y = new float[ROWS];
        ys = new float[BATCH * ROWS];
        backend = new CpuBackend(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }

    /** Decode-shaped: one activation vector. Bytes streamed = weights.byteSize(). */
    @Benchmark
    public float matvec() {
        backend.matmul(weights, x, y, 1);
        return y[0];
    }

    /** Prefill-shaped: 64 activation vectors; 2 × 4096 × 4096 × 64 flops. */
    @Benchmark
    public float matmul64() {
        backend.matmul(weights, xs, ys, BATCH);
        return ys[0];
    }
}
