package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

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
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Q5_K's row-group layout: its kernel bit for bit against a scalar transcription of its arithmetic (exact integer
 * sums per super-block, one FMA each for the scaled levels and the minimums) read from the file's own layout, and
 * close to the format's scalar integer twin; its decoding against the format's scalar twin; which weights it
 * refuses; and the CPU backend multiplying through it.
 */
class Q5_KRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 176;
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q5_K).rowGroups().orElseThrow();
    }

    private static Tensor randomQ5_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.randomBlocks(GgmlType.Q5_K, arena, rows, cols, seed);
    }

    private static Tensor quantizedQ5_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.quantized(GgmlType.Q5_K, arena, rows, cols, seed);
    }

    /**
     * One row's product from the file's own blocks: per super-block S = Σ scale_j Σ level·q8 and M = Σ min_j Σ q8,
     * then {@code acc = fma(S, d·d_x, acc)}, {@code accMin = fma(M, dmin·d_x, accMin)}; {@code acc − accMin}.
     */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        float acc = 0f;
        float accMin = 0f;
        for (int b = 0; b < cols / QK; b++) {
            float dx = KQuantRowGroupsTest.q8_K(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            float dmin = Half.f16ToFloat(data.get(ValueLayouts.I16, block + 2));
            int s = 0;
            int m = 0;
            for (int j = 0; j < 8; j++) {
                int dot = 0;
                int bsum = 0;
                for (int l = 0; l < 32; l++) {
                    int bits = data.get(ValueLayouts.I8, block + 48 + 32 * (j / 2) + l) & 0xFF;
                    int high = data.get(ValueLayouts.I8, block + 16 + l) >> j & 1;
                    int level = (j % 2 == 0 ? bits & 0xF : bits >> 4) | high << 4;
                    dot += level * q8[32 * j + l];
                    bsum += q8[32 * j + l];
                }
                s += KQuantRowGroupsTest.scaleMin(data, block + 4, j, 0) * dot;
                m += KQuantRowGroupsTest.scaleMin(data, block + 4, j, 1) * bsum;
            }
            acc = Math.fma((float) s, d * dx, acc);
            accMin = Math.fma((float) m, dmin * dx, accMin);
        }
        return acc - accMin;
    }

    @Test
    void groupKernelSumsTheFormatsIntegersBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomQ5_K(arena, rows, cols, cols), quantizedQ5_K(arena, rows, cols, cols + 2)}) {
                    assertThat(layout.canPack(w)).isTrue();
                    MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = KQuantRowGroupsTest.activations(2 * cols, cols + 1, cols / QK + 1);
                    QuantizedActivations qx = new QuantizedActivations();
                    layout.quantizeActivations(x, 0, 2 * cols, qx);
                    QuantizedActivations plain = new QuantizedActivations();
                    new Q5_KFormat().quantizeActivations(x, 0, 2 * cols, plain);
                    float[] out = new float[rows + 3];
                    for (int token = 0; token < 2; token++) {
                        for (int g = 0; g < rows / layout.rows(); g++) {
                            layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
                        }
                        for (int r = 0; r < rows; r++) {
                            assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                                    .isEqualTo(reference(w, r, x, token * cols, cols));
                            if (w.name().equals("quantized")) {
                                // The format's own integer twin adds per block in another order: float rounding.
                                float twin = new Q5_KFormat().dotQuantizedScalar(w.segment(), w.rowOffset(r), plain,
                                        token * cols, cols);
                                assertThat(out[3 + r]).as("row %d vs the integer twin", r)
                                        .isCloseTo(twin, within(1e-4f * Math.max(1f, Math.abs(twin))));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void compiledKernelStaysBitExact() {
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertCompiledKernelStaysBitExact(layout, arena, randomQ5_K(arena, 16, 2048, 99),
                    KQuantRowGroupsTest.activations(2 * 2048, 5, 3), Q5_KRowGroupsTest::reference);
        }
    }

    @Test
    void extremeLevelsAndScalesStayExact() {
        // Levels 31 with scales and minimums 63 (all bytes 0xFF) beside levels 0 (all bytes 0), activations at
        // ±127: the largest 16-bit lane sums (8 products of 31 × 127) and S = 8 × 63 × 32 × 31 × 127.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("extreme", GgmlType.Q5_K, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    for (int i = 4; i < BLOCK_BYTES; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (r % 4 == 3 ? 0x00 : 0xFF));
                    }
                    data.set(ValueLayouts.I16, block, Half.floatToF16(r < 4 ? 0.01f * (r + 1) : -60000f));
                    data.set(ValueLayouts.I16, block + 2, Half.floatToF16(r < 4 ? 0.5f : 3f));
                }
            }
            RowGroupChecks.assertExactAtFullScaleActivations(layout, arena, w, Q5_KRowGroupsTest::reference);
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomQ5_K(arena, 16, cols, 7), quantizedQ5_K(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, new Q5_KFormat());
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedQ5_K(arena, 48, cols, 11);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> KQuantRowGroupsTest.activations(batch * cols, batch, -1),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        KQuantRowGroupsTest.assertRefusesWeightsItCannotHold(layout, GgmlType.Q5_K);
    }
}
