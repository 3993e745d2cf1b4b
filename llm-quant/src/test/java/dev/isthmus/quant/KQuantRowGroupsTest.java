package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Q4_K's row-group layout: its kernel bit for bit against a scalar transcription of llama.cpp's AVX2 repacked
 * kernels ({@code ggml_gemv_q4_K_8x8_q8_K}, and {@code ggml_gemm_q4_K_8x8_q8_K} for prompt tokens taken four at
 * a time) on activations quantized by a transcription of {@code quantize_row_q8_K_ref}, both reading the file's
 * own layout; its decoding against the format's scalar twin; and which weights it refuses.
 */
class KQuantRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 144;
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q4_K).rowGroups().orElseThrow();
    }

    /**
     * Random block bytes of a k-quant with d and dmin in its first four bytes (Q4_K, Q5_K): every 6-bit scale and
     * min and every level occurs; d and dmin are finite halves of either sign from F16 subnormals up to 60000, so
     * that large sums also round when converted to float.
     */
    static Tensor randomBlocks(GgmlType type, Arena arena, int rows, int cols, long seed) {
        return randomBlocks(type, arena, rows, cols, seed, 0, 2);
    }

    /** As {@link #randomBlocks(GgmlType, Arena, int, int, long)}, with d and dmin at the given bytes of each block (Q2_K: 80, 82). */
    static Tensor randomBlocks(GgmlType type, Arena arena, int rows, int cols, long seed, int dAt, int dminAt) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.allocate("random", type, arena, rows, cols);
        MemorySegment data = t.segment();
        int blockBytes = type.bytesPerBlock();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / QK; b++) {
                long block = t.rowOffset(r) + (long) b * blockBytes;
                for (int i = 0; i < blockBytes; i++) {
                    data.set(ValueLayouts.I8, block + i, (byte) random.nextInt(256));
                }
                data.set(ValueLayouts.I16, block + dAt, finiteHalf(random));
                data.set(ValueLayouts.I16, block + dminAt, finiteHalf(random));
            }
        }
        return t;
    }

    private static Tensor randomQ4_K(Arena arena, int rows, int cols, long seed) {
        return randomBlocks(GgmlType.Q4_K, arena, rows, cols, seed);
    }

    private static short finiteHalf(SplittableRandom random) {
        float magnitude = (float) Math.pow(10, -7 + 11.7 * random.nextDouble());
        return Half.floatToF16(random.nextInt(8) == 0 ? -magnitude : magnitude);
    }

    /** Weights as llama.cpp's quantizer writes them (realistic scales and mins), Gaussian of varied scale. */
    static Tensor quantized(GgmlType type, Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(10, -3 + (i / QK) % 4));
        }
        Tensor t = Tensor.allocate("quantized", type, arena, rows, cols);
        for (int r = 0; r < rows; r++) {
            BlockFormats.require(type).quantize(values, r * cols, t.segment(), t.rowOffset(r), cols);
        }
        return t;
    }

    private static Tensor quantizedQ4_K(Arena arena, int rows, int cols, long seed) {
        return quantized(GgmlType.Q4_K, arena, rows, cols, seed);
    }

    /**
     * The refusals every k-quant layout makes: rows not a multiple of 8, another format, a NaN d, an infinite
     * dmin (the kernels widen halves with integer arithmetic that holds for finite values only); and rows out of
     * range at {@code pack}.
     */
    static void assertRefusesWeightsItCannotHold(RowGroupLayout layout, GgmlType type) {
        assertRefusesWeightsItCannotHold(layout, type, 0, 2);
    }

    /** As {@link #assertRefusesWeightsItCannotHold(RowGroupLayout, GgmlType)}, with d and dmin at the given bytes of each block. */
    static void assertRefusesWeightsItCannotHold(RowGroupLayout layout, GgmlType type, int dAt, int dminAt) {
        try (Arena arena = Arena.ofConfined()) {
            int blockBytes = type.bytesPerBlock();
            assertThat(layout.canPack(quantized(type, arena, 12, 256, 1))).as("rows not a multiple of 8").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f", GgmlType.F32, arena, 8, 256))).as("another format").isFalse();
            Tensor nan = quantized(type, arena, 8, 512, 2);
            nan.segment().set(ValueLayouts.I16, nan.rowOffset(5) + blockBytes + dAt, Half.floatToF16(Float.NaN));
            assertThat(layout.canPack(nan)).as("a NaN d").isFalse();
            Tensor inf = quantized(type, arena, 8, 512, 3);
            inf.segment().set(ValueLayouts.I16, inf.rowOffset(7) + dminAt, Half.floatToF16(Float.NEGATIVE_INFINITY));
            assertThat(layout.canPack(inf)).as("an infinite dmin").isFalse();
            Tensor ok = quantized(type, arena, 8, 256, 4);
            assertThat(layout.canPack(ok)).isTrue();
            MemorySegment small = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 1, small, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 1..8");
        }
    }

    /** Activations of varied magnitude; with {@code zeroBlock} ≥ 0 that 256-block is all zeros (d = 0). */
    static float[] activations(int n, long seed, int zeroBlock) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i / QK == zeroBlock ? 0f : (float) (random.nextGaussian() * (1 + (i / 32) % 7) * (i % 97 == 0 ? 50 : 1));
        }
        return x;
    }

    private MemorySegment pack(Arena arena, Tensor w) {
        return RowGroupChecks.pack(layout, arena, w);
    }

    /** {@code quantize_row_q8_K_ref} for the 256 activations at {@code from}: levels into {@code q}, returns d. */
    static float q8_K(float[] x, int from, int[] q) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            float ax = Math.abs(x[from + j]);
            if (ax > amax) {
                amax = ax;
                max = x[from + j];
            }
        }
        if (amax == 0) {
            java.util.Arrays.fill(q, 0);
            return 0f;
        }
        float iscale = -127f / max;
        for (int j = 0; j < QK; j++) {
            q[j] = Math.min(127, (int) Math.rint(iscale * x[from + j]));
        }
        return 1 / iscale;
    }

    /** ggml's get_scale_min_k4: sub-block j's 6-bit scale (m = 0) or min (m = 1) from the 12 scale bytes. */
    static int scaleMin(MemorySegment data, long scales, int j, int m) {
        int[] q = new int[12];
        for (int i = 0; i < 12; i++) {
            q[i] = data.get(ValueLayouts.I8, scales + i) & 0xFF;
        }
        if (j < 4) {
            return q[j + 4 * m] & 63;
        }
        return m == 0 ? (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4) : (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }

    /**
     * llama.cpp's AVX2 arithmetic for one row: per super-block exact integer sums S (scaled level products) and
     * M (mins × the Q8_K block sums of 32), then {@code acc = fma(S, d·d_x, acc)} and
     * {@code accMin = fma(M, dmin·d_x, accMin)}; {@code acc − accMin} at the end ({@code ggml_gemv_q4_K_8x8_q8_K}).
     */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        return reference(w, row, x, xOffset, cols, false);
    }

    /**
     * As {@link #reference(Tensor, int, float[], int, int)}, or with {@code perRun} as the 4-token kernel
     * ({@code ggml_gemm_q4_K_8x8_q8_K}) takes the float steps: once per pair of sub-blocks (2c, 2c + 1).
     */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols, boolean perRun) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        float acc = 0f;
        float accMin = 0f;
        for (int b = 0; b < cols / QK; b++) {
            float dx = q8_K(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            float dmin = Half.f16ToFloat(data.get(ValueLayouts.I16, block + 2));
            int s = 0;
            int m = 0;
            for (int j = 0; j < 8; j++) {
                int dot = 0;
                int bsum = 0;
                for (int l = 0; l < 32; l++) {
                    int bits = data.get(ValueLayouts.I8, block + 16 + 32 * (j / 2) + l) & 0xFF;
                    int level = j % 2 == 0 ? bits & 0xF : bits >> 4;
                    dot += level * q8[32 * j + l];
                    bsum += q8[32 * j + l];
                }
                s += scaleMin(data, block + 4, j, 0) * dot;
                m += scaleMin(data, block + 4, j, 1) * bsum;
                if (perRun && j % 2 == 1) {
                    acc = Math.fma((float) s, d * dx, acc);
                    accMin = Math.fma((float) m, dmin * dx, accMin);
                    s = 0;
                    m = 0;
                }
            }
            if (!perRun) {
                acc = Math.fma((float) s, d * dx, acc);
                accMin = Math.fma((float) m, dmin * dx, accMin);
            }
        }
        return acc - accMin;
    }

    @Test
    void groupKernelIsLlamaCppsRepackedArithmeticBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomQ4_K(arena, rows, cols, cols), quantizedQ4_K(arena, rows, cols, cols + 2)}) {
                    assertThat(layout.canPack(w)).isTrue();
                    MemorySegment packed = pack(arena, w);
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = activations(2 * cols, cols + 1, cols / QK + 1);
                    QuantizedActivations qx = new QuantizedActivations();
                    layout.quantizeActivations(x, 0, 2 * cols, qx);
                    float[] out = new float[rows + 3];
                    for (int token = 0; token < 2; token++) {
                        for (int g = 0; g < rows / layout.rows(); g++) {
                            layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
                        }
                        for (int r = 0; r < rows; r++) {
                            assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                                    .isEqualTo(reference(w, r, x, token * cols, cols));
                        }
                    }
                }
            }
        }
    }

    @Test
    void promptTokensInWholeGroupsOfFourFollowTheFourTokenKernel() {
        // llama.cpp multiplies a batch's first n − n % 4 tokens four at a time, the rest one at a time.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            int rows = 16;
            Tensor w = randomQ4_K(arena, rows, cols, 21);
            MemorySegment packed = pack(arena, w);
            for (int batch : new int[] {4, 5, 7, 9}) {
                float[] x = activations(batch * cols, batch, 2);
                QuantizedActivations qx = new QuantizedActivations();
                layout.quantizeActivations(x, 0, batch * cols, qx);
                float[] out = new float[rows];
                for (int token = 0; token < batch; token++) {
                    for (int g = 0; g < rows / layout.rows(); g++) {
                        layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, g * layout.rows());
                    }
                    boolean fourAtATime = token < batch - batch % 4;
                    for (int r = 0; r < rows; r++) {
                        assertThat(out[r]).as("batch %d token %d row %d", batch, token, r)
                                .isEqualTo(reference(w, r, x, token * cols, cols, fourAtATime));
                    }
                }
            }
        }
    }

    @Test
    void largeSumsRoundAsLlamaCppConvertsThem() {
        // All levels 15, scales and mins 63, activations at ±127: |S| ≈ 3·10^7 > 2^24 rounds when made a float.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("w", GgmlType.Q4_K, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    data.set(ValueLayouts.I16, block, Half.floatToF16(0.01f * (r + 1)));
                    data.set(ValueLayouts.I16, block + 2, Half.floatToF16(0.003f));
                    for (int i = 4; i < BLOCK_BYTES; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) 0xFF);
                    }
                    data.set(ValueLayouts.I8, block + 16 + r, (byte) 0xE7);
                }
            }
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = i % 61 == 0 ? 0.97f : 1f;
            }
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, qx);
            float[] out = new float[8];
            layout.dot(pack(arena, w), 0, qx, 0, cols, out, 0);
            for (int r = 0; r < 8; r++) {
                assertThat(out[r]).as("row %d", r).isEqualTo(reference(w, r, x, 0, cols));
            }
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomQ4_K(arena, 16, cols, 7), quantizedQ4_K(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, new Q4_KFormat());
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedQ4_K(arena, 48, cols, 11);
            // Whole groups of four tokens go through llama.cpp's 4-token kernel, the rest one by one.
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> activations(batch * cols, batch, -1),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols, b < batch - batch % 4));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        assertRefusesWeightsItCannotHold(layout, GgmlType.Q4_K);
    }
}
