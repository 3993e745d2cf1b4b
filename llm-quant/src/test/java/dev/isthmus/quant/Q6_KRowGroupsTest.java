package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.backend.cpu.CpuBackend;
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
 * Q6_K's row-group layout: every row's result bit for bit the format's single-row integer kernel
 * ({@link Q6_KFormat#dotQuantized}, llama.cpp's AVX2 {@code ggml_vec_dot_q6_K_q8_K}; llama.cpp does not repack
 * Q6_K on x86), its decoding against the format's scalar twin, and which weights it refuses.
 */
class Q6_KRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 210;
    private static final Q6_KFormat Q6_K = new Q6_KFormat();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q6_K).rowGroups().orElseThrow();
    }

    /** Random block bytes: every level and signed scale occurs; d a finite half of either sign, 1e-7 to 6e4. */
    private static Tensor randomQ6_K(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.allocate("random", GgmlType.Q6_K, arena, rows, cols);
        MemorySegment data = t.segment();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / QK; b++) {
                long block = t.rowOffset(r) + (long) b * BLOCK_BYTES;
                for (int i = 0; i < BLOCK_BYTES; i++) {
                    data.set(ValueLayouts.I8, block + i, (byte) random.nextInt(256));
                }
                float magnitude = (float) Math.pow(10, -7 + 11.7 * random.nextDouble());
                data.set(ValueLayouts.I16, block + 208, Half.floatToF16(random.nextInt(4) == 0 ? -magnitude : magnitude));
            }
        }
        return t;
    }

    /** Weights as llama.cpp's quantizer writes them. */
    private static Tensor quantizedQ6_K(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(10, -3 + (i / QK) % 4));
        }
        Tensor t = Tensor.allocate("quantized", GgmlType.Q6_K, arena, rows, cols);
        for (int r = 0; r < rows; r++) {
            Q6_K.quantize(values, r * cols, t.segment(), t.rowOffset(r), cols);
        }
        return t;
    }

    /** Activations of varied magnitude; with {@code zeroBlock} ≥ 0 that 256-block is all zeros (d = 0). */
    private static float[] activations(int n, long seed, int zeroBlock) {
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

    @Test
    void groupKernelIsTheSingleRowKernelBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 512, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomQ6_K(arena, rows, cols, cols), quantizedQ6_K(arena, rows, cols, cols + 2)}) {
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
                            float single = Q6_K.dotQuantized(w.segment(), w.rowOffset(r), qx, token * cols, cols);
                            assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                                    .isEqualTo(single);
                        }
                    }
                }
            }
        }
    }

    @Test
    void compiledKernelsStayBitExact() {
        // Enough calls for C2 to compile both kernels (and their vector intrinsics) while they are compared.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 2048;
            int rows = 16;
            Tensor w = randomQ6_K(arena, rows, cols, 99);
            MemorySegment packed = pack(arena, w);
            float[] x = activations(2 * cols, 5, 3);
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, 2 * cols, qx);
            float[] out = new float[rows];
            for (int rep = 0; rep < 3000; rep++) {
                int token = rep % 2;
                for (int g = 0; g < rows / layout.rows(); g++) {
                    layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, g * layout.rows());
                }
                for (int r = 0; r < rows; r++) {
                    float single = Q6_K.dotQuantized(w.segment(), w.rowOffset(r), qx, token * cols, cols);
                    if (Float.floatToRawIntBits(out[r]) != Float.floatToRawIntBits(single)) {
                        assertThat(out[r]).as("repetition %d token %d row %d", rep, token, r).isEqualTo(single);
                    }
                }
            }
        }
    }

    @Test
    void extremeLevelsAndScalesStayExact() {
        // Levels 63 or 0, scales ±127/−128, activations at ±127: the largest 16-bit lane sums and int sums.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("extreme", GgmlType.Q6_K, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    for (int i = 0; i < 192; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (r % 2 == 0 ? 0xFF : 0x00));
                    }
                    for (int i = 0; i < 16; i++) {
                        data.set(ValueLayouts.I8, block + 192 + i, (byte) (r < 4 ? 127 : -128));
                    }
                    data.set(ValueLayouts.I16, block + 208, Half.floatToF16(0.01f * (r + 1)));
                }
            }
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = i % 61 == 0 ? -1f : 1f;
            }
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, qx);
            float[] out = new float[8];
            layout.dot(pack(arena, w), 0, qx, 0, cols, out, 0);
            for (int r = 0; r < 8; r++) {
                assertThat(out[r]).as("row %d", r).isEqualTo(Q6_K.dotQuantized(data, w.rowOffset(r), qx, 0, cols));
            }
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomQ6_K(arena, 16, cols, 7), quantizedQ6_K(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, Q6_K);
            }
        }
    }

    @Test
    void cpuBackendMatchesTheSingleRowKernel() {
        int rows = 48;
        int cols = 512;
        try (Arena arena = Arena.ofShared(); CpuBackend prepared = new CpuBackend(2); CpuBackend plain = new CpuBackend(2)) {
            Tensor w = quantizedQ6_K(arena, rows, cols, 11);
            prepared.prepare(w);
            for (int batch : new int[] {1, 3, 40}) {
                float[] x = activations(batch * cols, batch, -1);
                float[] viaGroups = new float[batch * rows];
                float[] viaRows = new float[batch * rows];
                prepared.matmul(w, x, viaGroups, batch);
                plain.matmul(w, x, viaRows, batch);
                assertThat(viaGroups).as("batch %d", batch).containsExactly(viaRows);
            }
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        try (Arena arena = Arena.ofConfined()) {
            assertThat(layout.canPack(quantizedQ6_K(arena, 12, 256, 1))).as("rows not a multiple of 8").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f", GgmlType.F32, arena, 8, 256))).as("another format").isFalse();
            Tensor nan = quantizedQ6_K(arena, 8, 512, 2);
            nan.segment().set(ValueLayouts.I16, nan.rowOffset(5) + BLOCK_BYTES + 208, Half.floatToF16(Float.NaN));
            assertThat(layout.canPack(nan)).as("a NaN d").isFalse();
            Tensor inf = quantizedQ6_K(arena, 8, 512, 3);
            inf.segment().set(ValueLayouts.I16, inf.rowOffset(2) + 208, Half.floatToF16(Float.NEGATIVE_INFINITY));
            assertThat(layout.canPack(inf)).as("an infinite d").isFalse();
            assertThat(layout.canPack(quantizedQ6_K(arena, 16, 512, 4))).isTrue();
        }
    }
}
