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
                    .i32(capacity).f32(scale).pointer(0L).i32(DeviceRounding.NONE.code()).pointer(0L));
            assertClose(DeviceArrays.floats(ctx, dout, expected.length), expected, 1e-4, 1e-5, "attention");
            // With the output projection's Q8_0 rounding (heads of 160: five whole blocks), the rounded output is
            // bit for bit the rounding kernel's on the unrounded one.
            try (DeviceBuffer rounded = ctx.allocate(4L * expected.length, "rounded")) {
                ctx.launch("attention", LaunchPlanner.attention(heads, queries), new KernelArgs().pointer(dq)
                        .pointer(dk).pointer(dv).pointer(dout).pointer(scores).i32(heads).i32(kvHeads).i32(headDim)
                        .i32(first).i32(capacity).f32(scale).pointer(rounded).i32(DeviceRounding.Q8_0.code()).pointer(0L));
                LaunchPlanner.Launch r = LaunchPlanner.rounding(DeviceRounding.Q8_0, expected.length);
                ctx.launch(r.kernel(), r.config(), new KernelArgs().pointer(dout).pointer(dout).i32(expected.length).pointer(0L));
                assertThat(DeviceArrays.floats(ctx, rounded, expected.length)).as("attention rounded as Q8_0")
                        .isEqualTo(DeviceArrays.floats(ctx, dout, expected.length));
            }
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

    /**
     * The integer decode products: a norm writes one token's Q8_0 (Q8_K) rounding as levels and scales whose
     * products are its float rounding bit for bit; matvec_q8x then gives the float matvec's product of the same rounded
     * activations (to float rounding: integer block sums, another order), and matvecs_q8x each matrix's own
     * matvec_q8x product bit for bit.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "Q2_K", "Q3_K",
        "Q4_K", "Q5_K", "Q6_K"})
    void integerProductsMatchTheFloatProductsOfTheSameRounding(GgmlType type) {
        DeviceRounding rounding = DeviceRounding.of(type).orElseThrow();
        int cols = rounding == DeviceRounding.Q8_K ? 1024 : 896;
        int[] rows = {40, 8, 8};
        float[] x = gaussian(cols, 2, 61);
        float[] weight = gaussian(cols, 1, 62);
        long rowBytes = type.byteSize(cols);
        try (Arena arena = Arena.ofConfined(); DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x");
             DeviceBuffer dw = DeviceArrays.upload(ctx, weight, "norm weight");
             DeviceBuffer out = ctx.allocate(4L * cols, "out"); DeviceBuffer rounded = ctx.allocate(4L * cols, "rounded");
             DeviceBuffer qx = ctx.allocate(LaunchPlanner.integerActivationBytes(cols), "integers")) {
            ctx.launch("rms_norm_round", LaunchPlanner.norm(1), new KernelArgs().pointer(out).pointer(rounded).pointer(dx)
                    .pointer(0L).pointer(dw).i32(cols).f32(1e-5f).i32(rounding.code()).pointer(qx));
            float[] floats = DeviceArrays.floats(ctx, rounded, cols);
            java.lang.foreign.MemorySegment ints = arena.allocate(LaunchPlanner.integerActivationBytes(cols));
            ctx.download(qx, ints, LaunchPlanner.integerActivationBytes(cols));
            int scales = (cols + 15) & ~15;
            for (int i = 0; i < cols; i++) {
                byte level = ints.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i);
                float scale = ints.get(java.lang.foreign.ValueLayout.JAVA_FLOAT.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN),
                        scales + 4L * (i / rounding.block()));
                assertThat(level).as("level %d", i).isBetween((byte) -127, (byte) 127);
                assertThat(level * scale).as("level x scale, element %d", i).isEqualTo(floats[i]);
            }
            // The rounding kernel (the products' own rounding when no producer fused it) writes the same integers.
            try (DeviceBuffer again = ctx.allocate(4L * cols, "rounded again");
                 DeviceBuffer qx2 = ctx.allocate(LaunchPlanner.integerActivationBytes(cols), "integers again")) {
                LaunchPlanner.Launch r = LaunchPlanner.rounding(rounding, cols);
                ctx.launch(r.kernel(), r.config(), new KernelArgs().pointer(again).pointer(out).i32(cols).pointer(qx2));
                java.lang.foreign.MemorySegment ints2 = arena.allocate(LaunchPlanner.integerActivationBytes(cols));
                ctx.download(qx2, ints2, LaunchPlanner.integerActivationBytes(cols));
                assertThat(ints2.asSlice(0, scales + 4L * (cols / rounding.block())).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                        .as("%s kernel's integers", r.kernel())
                        .isEqualTo(ints.asSlice(0, scales + 4L * (cols / rounding.block())).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
            DeviceBuffer[] w = new DeviceBuffer[3];
            DeviceBuffer[] fl = new DeviceBuffer[3];
            DeviceBuffer[] alone = new DeviceBuffer[3];
            DeviceBuffer[] together = new DeviceBuffer[3];
            try {
                int threads = LaunchPlanner.integerThreadsPerRow(type, cols);
                for (int j = 0; j < 3; j++) {
                    Tensor t = MatmulComparison.randomWeights(type, rows[j], cols, arena, 70 + j);
                    w[j] = ctx.allocate(t.byteSize(), "weights " + j);
                    ctx.upload(t.segment(), w[j], 0, t.byteSize());
                    fl[j] = ctx.allocate(4L * rows[j], "float " + j);
                    alone[j] = ctx.allocate(4L * rows[j], "integer " + j);
                    together[j] = ctx.allocate(4L * rows[j], "together " + j);
                    LaunchPlanner.Launch f = LaunchPlanner.matVec(type, rows[j], cols);
                    ctx.launch(f.kernel(), f.config(), LaunchPlanner.productArgs(w[j].address(), rowBytes, rounded.address(),
                            fl[j].address(), rows[j], cols, 1, 1, 0));
                    LaunchPlanner.Launch l = LaunchPlanner.matVecInts(type, rows[j], cols, false);
                    ctx.launch(l.kernel(), l.config(), new KernelArgs().pointer(w[j]).i64(rowBytes).pointer(qx)
                            .pointer(alone[j]).i32(rows[j]).i32(cols).i32(threads));
                    float[] expected = DeviceArrays.floats(ctx, fl[j], rows[j]);
                    double[] e = new double[rows[j]];
                    for (int r = 0; r < rows[j]; r++) {
                        e[r] = expected[r];
                    }
                    assertClose(DeviceArrays.floats(ctx, alone[j], rows[j]), e, 1e-5, 1e-4, type + " integer product " + j);
                }
                LaunchPlanner.Launch l = LaunchPlanner.matVecInts(type, rows[0] + rows[1] + rows[2], cols, true);
                ctx.launch(l.kernel(), l.config(), new KernelArgs().pointer(w[0]).pointer(w[1]).pointer(w[2]).i64(rowBytes)
                        .pointer(qx).pointer(together[0]).pointer(together[1]).pointer(together[2]).i32(rows[0])
                        .i32(rows[1]).i32(rows[2]).i32(cols).i32(threads));
                for (int j = 0; j < 3; j++) {
                    assertThat(DeviceArrays.floats(ctx, together[j], rows[j])).as("matrix %d together", j)
                            .isEqualTo(DeviceArrays.floats(ctx, alone[j], rows[j]));
                }
            } finally {
                for (DeviceBuffer[] bs : new DeviceBuffer[][] {w, fl, alone, together}) {
                    for (DeviceBuffer b : bs) {
                        if (b != null) {
                            b.close();
                        }
                    }
                }
            }
        }
    }

    /** rms_norm_round without a residual or rounding: x scaled by its root mean square, times the weight. */
    /**
     * matvecs multiplies three matrices (rows 37, 6, 9: four 64-column rows share a block, so blocks straddle
     * the matrices) exactly as three matvec launches do, each product to its own output.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = GgmlType.class, names = {"Q4_0", "Q8_0", "F16", "Q4_K"})
    void matvecsGivesEachMatrixItsOwnLaunchsProduct(GgmlType type) {
        int cols = type == GgmlType.Q4_K ? 256 : 64;
        int[] rows = {37, 6, 9};
        float[] x = gaussian(cols, 1, 41);
        try (Arena arena = Arena.ofConfined(); DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x")) {
            DeviceBuffer[] w = new DeviceBuffer[3];
            DeviceBuffer[] alone = new DeviceBuffer[3];
            DeviceBuffer[] together = new DeviceBuffer[3];
            long rowBytes = type.byteSize(cols);
            try {
                for (int j = 0; j < 3; j++) {
                    Tensor t = MatmulComparison.randomWeights(type, rows[j], cols, arena, 50 + j);
                    w[j] = ctx.allocate(t.byteSize(), "weights " + j);
                    ctx.upload(t.segment(), w[j], 0, t.byteSize());
                    alone[j] = ctx.allocate(4L * rows[j], "alone " + j);
                    together[j] = ctx.allocate(4L * rows[j], "together " + j);
                    LaunchPlanner.Launch l = LaunchPlanner.matVec(type, rows[j], cols);
                    ctx.launch(l.kernel(), l.config(), LaunchPlanner.productArgs(w[j].address(), rowBytes, dx.address(),
                            alone[j].address(), rows[j], cols, 1, 1, 0));
                }
                LaunchPlanner.Launch l = LaunchPlanner.matVecs(type, rows[0] + rows[1] + rows[2], cols);
                ctx.launch(l.kernel(), l.config(), new KernelArgs().pointer(w[0]).pointer(w[1]).pointer(w[2]).i64(rowBytes)
                        .pointer(dx).pointer(together[0]).pointer(together[1]).pointer(together[2]).i32(rows[0])
                        .i32(rows[1]).i32(rows[2]).i32(cols).i32(LaunchPlanner.threadsPerRow(cols)));
                for (int j = 0; j < 3; j++) {
                    assertThat(DeviceArrays.floats(ctx, together[j], rows[j])).as("matrix %d", j)
                            .isEqualTo(DeviceArrays.floats(ctx, alone[j], rows[j]));
                }
            } finally {
                for (DeviceBuffer[] bs : new DeviceBuffer[][] {w, alone, together}) {
                    for (DeviceBuffer b : bs) {
                        if (b != null) {
                            b.close();
                        }
                    }
                }
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
            ctx.launch("rms_norm_round", LaunchPlanner.norm(rows), new KernelArgs().pointer(dout).pointer(0L)
                    .pointer(dx).pointer(0L).pointer(dw).i32(n).f32(eps).i32(DeviceRounding.NONE.code()).pointer(0L));
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
            assertClose(DeviceArrays.floats(ctx, dout, rows * n), expected, 1e-5, 1e-6, "rms_norm_round");
            assertThat(DeviceArrays.floats(ctx, dx, rows * n)).as("x without a residual").isEqualTo(x);
        }
    }

    /**
     * The fused residual add, norm and rounding give, bit for bit, what the separate kernels give one after
     * another (add, then the norm without rounding, then the rounding kernel on its output), for every rounding
     * and both norms; rows of 512 hold two Q8_K blocks and sixteen Q8_0 blocks. The fused rounding's output
     * buffer starts as NaN, so an element it skips fails.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(DeviceRounding.class)
    void normsWithResidualAndRoundingEqualTheSeparateSteps(DeviceRounding rounding) {
        assertNormFusionExact(rounding, 512);
    }

    /** Rows narrower than a warp (8: llama-2-tiny-random's) and with a partial last warp block (40) are rounded whole. */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = DeviceRounding.class, names = {"NONE", "F16", "BF16"})
    void normsRoundNarrowRowsWhole(DeviceRounding rounding) {
        assertNormFusionExact(rounding, 8);
        assertNormFusionExact(rounding, 40);
    }

    private static void assertNormFusionExact(DeviceRounding rounding, int n) {
        int rows = 3;
        float eps = 1e-5f;
        float[] x = gaussian(rows * n, 2, 7);
        float[] residual = gaussian(rows * n, 1, 8);
        float[] weight = gaussian(n, 1, 9);
        float[] bias = gaussian(n, 0.1, 10);
        for (String norm : new String[] {"rms_norm_round", "layer_norm_round"}) {
            try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x"); DeviceBuffer dr = DeviceArrays.upload(ctx, residual, "r");
                 DeviceBuffer dw = DeviceArrays.upload(ctx, weight, "weight");
                 DeviceBuffer db = DeviceArrays.upload(ctx, bias, "bias");
                 DeviceBuffer fusedOut = ctx.allocate(4L * rows * n, "fused out");
                 DeviceBuffer fusedRounded = ctx.allocate(4L * rows * n, "fused rounded");
                 DeviceBuffer sx = DeviceArrays.upload(ctx, x, "separate x");
                 DeviceBuffer out = ctx.allocate(4L * rows * n, "separate out")) {
                ctx.launch(norm, LaunchPlanner.norm(rows), normArgs(norm, fusedOut, fusedRounded, dx, dr.address(), dw,
                        db, n, eps, rounding));
                ctx.launch("add", LaunchPlanner.elementwise(rows * n), new KernelArgs().pointer(sx).pointer(dr).i32(rows * n));
                ctx.launch(norm, LaunchPlanner.norm(rows), normArgs(norm, out, null, sx, 0L, dw, db, n, eps,
                        DeviceRounding.NONE));
                assertThat(DeviceArrays.floats(ctx, dx, rows * n)).as("%s: x plus the residual", norm)
                        .isEqualTo(DeviceArrays.floats(ctx, sx, rows * n));
                assertThat(DeviceArrays.floats(ctx, fusedOut, rows * n)).as("%s: the unrounded output", norm)
                        .isEqualTo(DeviceArrays.floats(ctx, out, rows * n));
                if (rounding != DeviceRounding.NONE) {
                    LaunchPlanner.Launch r = LaunchPlanner.rounding(rounding, rows * n);
                    ctx.launch(r.kernel(), r.config(), new KernelArgs().pointer(out).pointer(out).i32(rows * n).pointer(0L));
                    assertThat(DeviceArrays.floats(ctx, fusedRounded, rows * n)).as("%s: rounded as %s", norm, rounding)
                            .isEqualTo(DeviceArrays.floats(ctx, out, rows * n));
                }
            }
        }
    }

    private static KernelArgs normArgs(String kernel, DeviceBuffer out, DeviceBuffer rounded, DeviceBuffer x,
                                       long residual, DeviceBuffer weight, DeviceBuffer bias, int n, float eps,
                                       DeviceRounding rounding) {
        KernelArgs args = new KernelArgs().pointer(out).pointer(rounded == null ? 0L : rounded.address()).pointer(x)
                .pointer(residual).pointer(weight);
        if (kernel.equals("layer_norm_round")) {
            args.pointer(bias);
        }
        return args.i32(n).f32(eps).i32(rounding.code()).pointer(0L);
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

    /** silu_mul_round without rounding: the gate's SiLU times the up projection. */
    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {1000, 4864})
    void siluMulGatesTheUpProjection(int n) {
        float[] gate = gaussian(n, 3, n);
        float[] up = gaussian(n, 1, n + 1);
        try (DeviceBuffer dg = DeviceArrays.upload(ctx, gate, "gate"); DeviceBuffer du = DeviceArrays.upload(ctx, up, "up");
             DeviceBuffer out = ctx.allocate(4L * n, "out")) {
            ctx.launch("silu_mul_round", LaunchPlanner.siluMulRound(DeviceRounding.NONE, n), new KernelArgs().pointer(out)
                    .pointer(0L).pointer(dg).pointer(du).i32(n).i32(n).i32(n).i32(DeviceRounding.NONE.code()).pointer(0L));
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                expected[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            assertClose(DeviceArrays.floats(ctx, out, n), expected, 1e-6, 1e-7, "silu_mul_round");
        }
    }

    /**
     * silu_mul_round on the halves of a fused gate-up product (rows of 2 x 512) gives, bit for bit, the
     * unrounded product of the same kernel on separate gate and up rows, and that rounded by the rounding
     * kernel, for every rounding.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(DeviceRounding.class)
    void siluMulRoundReadsFusedHalvesAndRoundsAsTheRoundingKernel(DeviceRounding rounding) {
        int rows = 3;
        int f = 512;
        float[] gateUp = gaussian(rows * 2 * f, 3, 11);
        float[] gate = new float[rows * f];
        float[] up = new float[rows * f];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(gateUp, r * 2 * f, gate, r * f, f);
            System.arraycopy(gateUp, r * 2 * f + f, up, r * f, f);
        }
        int n = rows * f;
        try (DeviceBuffer dgu = DeviceArrays.upload(ctx, gateUp, "gate-up"); DeviceBuffer dg = DeviceArrays.upload(ctx, gate, "g");
             DeviceBuffer du = DeviceArrays.upload(ctx, up, "u"); DeviceBuffer out = ctx.allocate(4L * n, "out");
             DeviceBuffer rounded = ctx.allocate(4L * n, "rounded"); DeviceBuffer plain = ctx.allocate(4L * n, "plain")) {
            ctx.launch("silu_mul_round", LaunchPlanner.siluMulRound(rounding, n), new KernelArgs().pointer(out)
                    .pointer(rounded).pointer(dgu).pointer(dgu.address() + 4L * f).i32(f).i32(2 * f).i32(n)
                    .i32(rounding.code()).pointer(0L));
            ctx.launch("silu_mul_round", LaunchPlanner.siluMulRound(DeviceRounding.NONE, n), new KernelArgs()
                    .pointer(plain).pointer(0L).pointer(dg).pointer(du).i32(f).i32(f).i32(n)
                    .i32(DeviceRounding.NONE.code()).pointer(0L));
            assertThat(DeviceArrays.floats(ctx, out, n)).as("unrounded").isEqualTo(DeviceArrays.floats(ctx, plain, n));
            if (rounding != DeviceRounding.NONE) {
                LaunchPlanner.Launch r = LaunchPlanner.rounding(rounding, n);
                ctx.launch(r.kernel(), r.config(), new KernelArgs().pointer(plain).pointer(plain).i32(n).pointer(0L));
                assertThat(DeviceArrays.floats(ctx, rounded, n)).as("rounded as %s", rounding)
                        .isEqualTo(DeviceArrays.floats(ctx, plain, n));
            }
        }
    }

    /**
     * qkv_rope on a fused QKV product of 2 tokens (3 query heads, 1 key-value head of 10, 6 of them rotated)
     * against its formula in double precision: biases added, query and key heads rotated, values only biased,
     * rows split into the query buffer and the cache; then with half precision, every element rounded to F16.
     */
    @ParameterizedTest(name = "neox {0}")
    @ValueSource(ints = {0, 1})
    void qkvRopeBiasesRotatesSplitsAndRounds(int neox) {
        int heads = 3;
        int kvHeads = 1;
        int headDim = 10;
        int dims = 6;
        int tokens = 2;
        int qd = heads * headDim;
        int kvd = kvHeads * headDim;
        int width = qd + 2 * kvd;
        float[] qkv = gaussian(tokens * width, 1, 31 + neox);
        float[] bias = gaussian(width, 0.5, 33);
        float[] cos = new float[tokens * dims / 2];
        float[] sin = new float[tokens * dims / 2];
        for (int i = 0; i < cos.length; i++) {
            cos[i] = (float) Math.cos(0.3 * i + 0.1);
            sin[i] = (float) Math.sin(0.3 * i + 0.1);
        }
        double[] q = new double[tokens * qd];
        double[] k = new double[tokens * kvd];
        double[] v = new double[tokens * kvd];
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads + 2 * kvHeads; h++) {
                double[] head = new double[headDim];
                for (int i = 0; i < headDim; i++) {
                    head[i] = (double) qkv[t * width + h * headDim + i] + bias[h * headDim + i];
                }
                if (h < heads + kvHeads) {
                    for (int i = 0; i < dims / 2; i++) {
                        int a = neox == 1 ? i : 2 * i;
                        int b = neox == 1 ? i + dims / 2 : 2 * i + 1;
                        double c = cos[t * dims / 2 + i];
                        double s = sin[t * dims / 2 + i];
                        double x0 = head[a];
                        double x1 = head[b];
                        head[a] = x0 * c - x1 * s;
                        head[b] = x0 * s + x1 * c;
                    }
                }
                double[] dst = h < heads ? q : h < heads + kvHeads ? k : v;
                int at = h < heads ? t * qd + h * headDim : t * kvd + (h < heads + kvHeads ? h - heads : h - heads - kvHeads) * headDim;
                System.arraycopy(head, 0, dst, at, headDim);
            }
        }
        for (int half = 0; half <= 1; half++) {
            try (DeviceBuffer src = DeviceArrays.upload(ctx, qkv, "qkv"); DeviceBuffer b = DeviceArrays.upload(ctx, bias, "bias");
                 DeviceBuffer dc = DeviceArrays.upload(ctx, cos, "cos"); DeviceBuffer ds = DeviceArrays.upload(ctx, sin, "sin");
                 DeviceBuffer dq = ctx.allocate(4L * tokens * qd, "q"); DeviceBuffer dk = ctx.allocate(4L * tokens * kvd, "k");
                 DeviceBuffer dv = ctx.allocate(4L * tokens * kvd, "v")) {
                ctx.launch("qkv_rope", LaunchPlanner.qkvRope(heads, kvHeads, headDim, tokens), new KernelArgs()
                        .pointer(src).pointer(src.address() + 4L * qd).pointer(src.address() + 4L * (qd + kvd))
                        .i32(width).i32(width).pointer(dq).pointer(dk).pointer(dv).pointer(b)
                        .pointer(b.address() + 4L * qd).pointer(b.address() + 4L * (qd + kvd)).pointer(dc).pointer(ds)
                        .i32(heads).i32(kvHeads).i32(headDim).i32(dims).i32(neox).i32(half));
                double tolerance = half == 1 ? 1e-3 : 1e-6;
                String mode = half == 1 ? " (half)" : "";
                assertClose(DeviceArrays.floats(ctx, dq, tokens * qd), q, tolerance, 1e-6, "queries" + mode);
                assertClose(DeviceArrays.floats(ctx, dk, tokens * kvd), k, tolerance, 1e-6, "keys" + mode);
                assertClose(DeviceArrays.floats(ctx, dv, tokens * kvd), v, tolerance, 1e-6, "values" + mode);
                if (half == 1) {
                    for (float e : DeviceArrays.floats(ctx, dq, tokens * qd)) {
                        assertThat(Float.float16ToFloat(Float.floatToFloat16(e))).as("a half-precision query").isEqualTo(e);
                    }
                    for (float e : DeviceArrays.floats(ctx, dv, tokens * kvd)) {
                        assertThat(Float.float16ToFloat(Float.floatToFloat16(e))).as("a half-precision value").isEqualTo(e);
                    }
                }
            }
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
