package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The light kernels of kernels.cu, launched through {@link CudaContext} as the backend plans them
 * ({@link LaunchPlanner}, {@link KernelArgs}) on the emulated driver, against the same formulas computed in
 * double precision in Java. Lengths that are not a multiple of the block size check the tails.
 */
class KernelsEmulatedTest {
    static CudaContext ctx;

    @BeforeAll
    static void open() {
        EmulatedDriver.load();
        ctx = CudaContext.open(CudaProbe.system().devices().getFirst());
        ctx.loadModule(PtxCatalog.load(PtxCatalog.minimumTarget()));
    }

    @AfterAll
    static void close() {
        if (ctx != null) {
            ctx.close();
            assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing the context").isZero();
        }
    }

    static float[] gaussian(int n, double scale, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    /** Each element within {@code relative} of the expected value, or {@code absolute} near zero. */
    static void assertClose(float[] actual, double[] expected, double relative, double absolute, String what) {
        assertThat(actual).as(what + " length").hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("%s element %d", what, i)
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(relative * Math.abs(expected[i]) + absolute));
        }
    }

    /**
     * Causal grouped-query attention of 3 queries at positions 45..47 over a cache of 64, with a head width
     * (160) that the value pass covers in two chunks, the second partial; against softmax in double precision.
     */
    @Test
    void attentionIsCausalSoftmaxOverTheCache() {
        int heads = 4;
        int kvHeads = 2;
        int headDim = 160;
        int first = 45;
        int queries = 3;
        int capacity = 64;
        int kvStride = kvHeads * headDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] q = gaussian(queries * heads * headDim, 1, 21);
        float[] k = gaussian(capacity * kvStride, 1, 22);
        float[] v = gaussian(capacity * kvStride, 1, 23);
        double[] expected = new double[queries * heads * headDim];
        for (int j = 0; j < queries; j++) {
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kvHeads);
                int positions = first + j + 1;
                double[] w = new double[positions];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < positions; p++) {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        dot += (double) q[(j * heads + h) * headDim + i] * k[p * kvStride + kvh * headDim + i];
                    }
                    w[p] = dot * scale;
                    max = Math.max(max, w[p]);
                }
                double sum = 0;
                for (int p = 0; p < positions; p++) {
                    w[p] = Math.exp(w[p] - max);
                    sum += w[p];
                }
                for (int i = 0; i < headDim; i++) {
                    double acc = 0;
                    for (int p = 0; p < positions; p++) {
                        acc += w[p] * v[p * kvStride + kvh * headDim + i];
                    }
                    expected[(j * heads + h) * headDim + i] = acc / sum;
                }
            }
        }
        try (DeviceBuffer dq = DeviceArrays.upload(ctx, q, "q"); DeviceBuffer dk = DeviceArrays.upload(ctx, k, "k");
             DeviceBuffer dv = DeviceArrays.upload(ctx, v, "v");
             DeviceBuffer dout = ctx.allocate(4L * queries * heads * headDim, "out");
             DeviceBuffer scores = ctx.allocate(4L * queries * heads * capacity, "scores")) {
            ctx.launch("attention", LaunchPlanner.attention(heads, queries), new KernelArgs().pointer(dq).pointer(dk)
                    .pointer(dv).pointer(dout).pointer(scores).i32(heads).i32(kvHeads).i32(headDim).i32(first)
                    .i32(capacity).f32(scale));
            assertClose(DeviceArrays.floats(ctx, dout, expected.length), expected, 1e-4, 1e-5, "attention");
        }
    }

    /**
     * A prefill product split in column ranges (rows not a multiple of the 32-row tile, tokens not of the
     * 64-token tile, items not a multiple of the splits) gives the unsplit product, and both the product
     * computed in double precision from the dequantized weights.
     */
    @Test
    void splitPrefillProductsAddTheirColumnRanges() {
        int rows = 40;
        int cols = 544;
        int batch = 70;
        int splits = LaunchPlanner.splits(rows, cols, batch, 16, 3L * rows * batch);
        assertThat(splits).as("a small product on 16 multiprocessors is split, as far as the scratch allows").isEqualTo(4);
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = MatmulComparison.randomWeights(GgmlType.Q8_0, rows, cols, arena, 3);
            float[] x = gaussian(batch * cols, 1, 4);
            double[] expected = new double[batch * rows];
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                w.dequantizeRow(r, row, 0);
                for (int t = 0; t < batch; t++) {
                    double sum = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += (double) row[c] * x[t * cols + c];
                    }
                    expected[t * rows + r] = sum;
                }
            }
            try (DeviceBuffer dw = ctx.allocate(w.byteSize(), "weights"); DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x");
                 DeviceBuffer whole = ctx.allocate(4L * batch * rows, "unsplit");
                 DeviceBuffer split = ctx.allocate(4L * batch * rows, "split");
                 DeviceBuffer partial = ctx.allocate(4L * (splits - 1) * batch * rows, "partial sums")) {
                ctx.upload(w.segment(), dw, 0, w.byteSize());
                long rowBytes = GgmlType.Q8_0.byteSize(cols);
                LaunchPlanner.Launch one = LaunchPlanner.mulMatSplit(GgmlType.Q8_0, rows, batch, 1);
                ctx.launch(one.kernel(), one.config(), new KernelArgs().pointer(dw).i64(rowBytes).pointer(dx)
                        .pointer(whole).i32(rows).i32(cols).i32(batch).i32(1).pointer(0L));
                LaunchPlanner.Launch many = LaunchPlanner.mulMatSplit(GgmlType.Q8_0, rows, batch, splits);
                ctx.launch(many.kernel(), many.config(), new KernelArgs().pointer(dw).i64(rowBytes).pointer(dx)
                        .pointer(split).i32(rows).i32(cols).i32(batch).i32(splits).pointer(partial));
                ctx.launch("sum_splits", LaunchPlanner.elementwise(batch * rows), new KernelArgs().pointer(split)
                        .pointer(partial).i32(batch * rows).i32(splits));
                assertClose(DeviceArrays.floats(ctx, whole, batch * rows), expected, 1e-4, 1e-4, "unsplit product");
                assertClose(DeviceArrays.floats(ctx, split, batch * rows), expected, 1e-4, 1e-4, "split product");
            }
        }
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {896, 1000, 64})
    void rmsNormScalesEachRowByItsRootMeanSquare(int n) {
        int rows = 3;
        float eps = 1e-5f;
        float[] x = gaussian(rows * n, 2, n);
        float[] weight = gaussian(n, 1, n + 1);
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x"); DeviceBuffer dw = DeviceArrays.upload(ctx, weight, "weight");
             DeviceBuffer dout = ctx.allocate(4L * rows * n, "out")) {
            ctx.launch("rms_norm", LaunchPlanner.rowwise(rows),
                    new KernelArgs().pointer(dout).pointer(dx).pointer(dw).i32(n).f32(eps));
            double[] expected = new double[rows * n];
            for (int r = 0; r < rows; r++) {
                double squares = 0;
                for (int i = 0; i < n; i++) {
                    squares += (double) x[r * n + i] * x[r * n + i];
                }
                double scale = 1 / Math.sqrt(squares / n + eps);
                for (int i = 0; i < n; i++) {
                    expected[r * n + i] = x[r * n + i] * scale * weight[i];
                }
            }
            assertClose(DeviceArrays.floats(ctx, dout, rows * n), expected, 1e-5, 1e-6, "rms_norm");
        }
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {777, 256, 5})
    void softmaxRowsSumToOneInProportionToExp(int n) {
        int rows = 4;
        float[] x = gaussian(rows * n, 5, n);
        for (int i = 0; i < n; i++) {
            x[3 * n + i] += 1000; // expf(x) alone would overflow: the row's maximum must be subtracted first
        }
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x")) {
            ctx.launch("softmax_rows", LaunchPlanner.rowwise(rows), new KernelArgs().pointer(dx).i32(n));
            double[] expected = new double[rows * n];
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    max = Math.max(max, x[r * n + i]);
                }
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += Math.exp(x[r * n + i] - max);
                }
                for (int i = 0; i < n; i++) {
                    expected[r * n + i] = Math.exp(x[r * n + i] - max) / sum;
                }
            }
            assertClose(DeviceArrays.floats(ctx, dx, rows * n), expected, 1e-5, 1e-9, "softmax_rows");
        }
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {1000, 4864})
    void siluMulGatesTheUpProjection(int n) {
        float[] gate = gaussian(n, 3, n);
        float[] up = gaussian(n, 1, n + 1);
        try (DeviceBuffer dg = DeviceArrays.upload(ctx, gate, "gate"); DeviceBuffer du = DeviceArrays.upload(ctx, up, "up")) {
            ctx.launch("silu_mul", LaunchPlanner.elementwise(n), new KernelArgs().pointer(dg).pointer(du).i32(n));
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                expected[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            assertClose(DeviceArrays.floats(ctx, dg, n), expected, 1e-6, 1e-7, "silu_mul");
        }
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {1000, 3072})
    void geluIsTheTanhApproximation(int n) {
        float[] x = gaussian(n, 3, n);
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x")) {
            ctx.launch("gelu", LaunchPlanner.elementwise(n), new KernelArgs().pointer(dx).i32(n));
            double[] expected = new double[n];
            double k = Math.sqrt(2 / Math.PI);
            for (int i = 0; i < n; i++) {
                double v = x[i];
                expected[i] = 0.5 * v * (1 + Math.tanh(k * v * (1 + 0.044715 * v * v)));
            }
            // 1 + tanh(..) cancels in float for large negative inputs: an absolute floor of a few float ulps of 1.
            assertClose(DeviceArrays.floats(ctx, dx, n), expected, 1e-6, 1e-6, "gelu");
        }
    }

    @Test
    void addIsExactFloatAddition() {
        int n = 1000;
        float[] x = gaussian(n, 1, 1);
        float[] y = gaussian(n, 1, 2);
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x"); DeviceBuffer dy = DeviceArrays.upload(ctx, y, "y")) {
            ctx.launch("add", LaunchPlanner.elementwise(n), new KernelArgs().pointer(dx).pointer(dy).i32(n));
            float[] sum = DeviceArrays.floats(ctx, dx, n);
            for (int i = 0; i < n; i++) {
                assertThat(sum[i]).as("element %d", i).isEqualTo(x[i] + y[i]);
            }
        }
    }

    @Test
    void elementwiseKernelsLeaveWhatFollowsNAlone() {
        // A buffer longer than n: the last block's threads past n must not write.
        int n = 300;
        float[] x = gaussian(512, 1, 3);
        float[] y = gaussian(512, 1, 4);
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x"); DeviceBuffer dy = DeviceArrays.upload(ctx, y, "y")) {
            ctx.launch("add", LaunchPlanner.elementwise(n), new KernelArgs().pointer(dx).pointer(dy).i32(n));
            float[] out = DeviceArrays.floats(ctx, dx, 512);
            for (int i = n; i < 512; i++) {
                assertThat(out[i]).as("element %d past n", i).isEqualTo(x[i]);
            }
        }
    }
}
