package dev.isthmus.quant;

import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Q2_K's row-group layout: its kernel bit for bit against a scalar transcription of its arithmetic (exact integer
 * sums per super-block, one FMA each for the scaled levels and the minimums) read from the file's own blocks, and
 * close to the format's scalar integer twin; its decoding against the format's scalar twin; which weights it
 * refuses; and the CPU backend multiplying through it.
 */
class Q2_KRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 84;
    private static final Q2_KFormat Q2_K = new Q2_KFormat();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q2_K).rowGroups().orElseThrow();
    }

    /** Random block bytes: every level, scale and min occurs; d and dmin finite halves of either sign, 1e-7 to 6e4. */
    private static Tensor randomQ2_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.randomBlocks(GgmlType.Q2_K, arena, rows, cols, seed, 80, 82);
    }

    private static Tensor quantizedQ2_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.quantized(GgmlType.Q2_K, arena, rows, cols, seed);
    }

    /** Per super-block of one row: d·d_x·S and dmin·d_x·M (the two products the kernel sums), as floats. */
    private record Terms(float[] scaled, float[] minimums) {
    }

    /**
     * One row's super-block terms from the file's own blocks and a transcription of {@code quantize_row_q8_K_ref}:
     * S = Σ_j scale_j Σ level·q8 and M = Σ_j min_j Σ q8 over the 16 sub-blocks j, exactly in integers; each kept
     * as the float the kernel converts it to, with its factor d·d_x or dmin·d_x.
     */
    private static Terms terms(Tensor w, int row, float[] x, int xOffset, int cols, float[][] factors) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        int blocks = cols / QK;
        float[] s = new float[blocks];
        float[] m = new float[blocks];
        factors[0] = new float[blocks];
        factors[1] = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            float dx = KQuantRowGroupsTest.q8_K(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block + 80));
            float dmin = Half.f16ToFloat(data.get(ValueLayouts.I16, block + 82));
            int sum = 0;
            int mins = 0;
            for (int j = 0; j < 16; j++) {
                int sc = data.get(ValueLayouts.I8, block + j) & 0xFF;
                int dot = 0;
                int bsum = 0;
                for (int l = 0; l < 16; l++) {
                    int i = 16 * j + l;
                    // Weight 128n + 32j' + k sits in bits 2j', 2j' + 1 of qs[32n + k].
                    int bits = data.get(ValueLayouts.I8, block + 16 + 32 * (i / 128) + i % 32) & 0xFF;
                    int level = bits >> (2 * (i % 128 / 32)) & 3;
                    dot += level * q8[i];
                    bsum += q8[i];
                }
                sum += (sc & 0xF) * dot;
                mins += (sc >> 4) * bsum;
            }
            s[b] = sum;
            m[b] = mins;
            factors[0][b] = d * dx;
            factors[1][b] = dmin * dx;
        }
        return new Terms(s, m);
    }

    /** {@code acc = fma(S, d·d_x, acc)}, {@code accMin = fma(M, dmin·d_x, accMin)} block after block; acc − accMin. */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[][] factors = new float[2][];
        Terms t = terms(w, row, x, xOffset, cols, factors);
        float acc = 0f;
        float accMin = 0f;
        for (int b = 0; b < cols / QK; b++) {
            acc = Math.fma(t.scaled()[b], factors[0][b], acc);
            accMin = Math.fma(t.minimums()[b], factors[1][b], accMin);
        }
        return acc - accMin;
    }

    /**
     * How far two float evaluations of the same exact integer terms may drift apart: each rounds a product or sum
     * per term with relative error 2^-24, and the rounding errors add up to at most (a few more than the number of
     * terms) × 2^-24 × Σ|term|. The result itself may cancel to near zero, so the bound is taken on the terms'
     * magnitudes, in double: 2^-24 × (2 × blocks + 4) × Σ |d·d_x·S| + |dmin·d_x·M|.
     */
    private static float tolerance(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[][] factors = new float[2][];
        Terms t = terms(w, row, x, xOffset, cols, factors);
        double magnitude = 0;
        for (int b = 0; b < cols / QK; b++) {
            magnitude += Math.abs((double) t.scaled()[b] * factors[0][b]) + Math.abs((double) t.minimums()[b] * factors[1][b]);
        }
        return (float) (Math.scalb(1.0, -24) * (2 * cols / QK + 4) * magnitude);
    }

    @Test
    void groupKernelSumsTheFormatsIntegersBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomQ2_K(arena, rows, cols, cols), quantizedQ2_K(arena, rows, cols, cols + 2)}) {
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = KQuantRowGroupsTest.activations(2 * cols, cols + 1, cols / QK + 1);
                    RowGroupChecks.assertGroupKernel(layout, arena, w, x, Q2_K, Q2_KRowGroupsTest::reference,
                            // The format's own integer twin rounds per block in another order: float rounding only.
                            new RowGroupChecks.Agreement("the integer twin", Q2_K::dotQuantizedScalar, Q2_KRowGroupsTest::tolerance));
                }
            }
        }
    }

    @Test
    void compiledKernelStaysBitExact() {
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertCompiledKernelStaysBitExact(layout, arena, randomQ2_K(arena, 16, 2048, 99),
                    KQuantRowGroupsTest.activations(2 * 2048, 5, 3), Q2_KRowGroupsTest::reference);
        }
    }

    @Test
    void extremeLevelsScalesAndMinimumsStayExact() {
        // Levels 3 (or 0), scales and mins 15, activations at ±127: the largest 16-bit lane sums, S and M.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("extreme", GgmlType.Q2_K, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    for (int i = 0; i < 80; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (i >= 16 && r % 4 == 3 ? 0x00 : 0xFF));
                    }
                    data.set(ValueLayouts.I16, block + 80, Half.floatToF16(0.01f * (r + 1)));
                    data.set(ValueLayouts.I16, block + 82, Half.floatToF16(r < 4 ? 0.003f : -60000f));
                }
            }
            RowGroupChecks.assertExactAtFullScaleActivations(layout, arena, w, Q2_KRowGroupsTest::reference);
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomQ2_K(arena, 16, cols, 7), quantizedQ2_K(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, Q2_K);
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedQ2_K(arena, 48, cols, 11);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> KQuantRowGroupsTest.activations(batch * cols, batch, -1),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        KQuantRowGroupsTest.assertRefusesWeightsItCannotHold(layout, GgmlType.Q2_K, 80, 82);
    }
}
