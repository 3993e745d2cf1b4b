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
 * IQ4_XS's row-group layout: its kernel bit for bit against a scalar transcription of its arithmetic (an exact
 * integer sum per row and super-block, then {@code acc + float(S)·(d·d_x)}) read from the file's own blocks, bit for
 * bit equal to the format's scalar integer twin and close to its vector integer kernel; its decoding against the
 * format's scalar twin; which weights it refuses; and the CPU backend multiplying through it.
 */
class IQ4_XSRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 136;
    private static final IQ4_XSFormat IQ4_XS = new IQ4_XSFormat();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.IQ4_XS).rowGroups().orElseThrow();
    }

    /** Random block bytes: every index and 6-bit scale occurs; d a finite half of either sign, 1e-7 to 6e4. */
    private static Tensor randomIQ4_XS(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.randomBlocks(GgmlType.IQ4_XS, arena, rows, cols, seed, 0, 0);
    }

    private static Tensor quantizedIQ4_XS(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.quantized(GgmlType.IQ4_XS, arena, rows, cols, seed);
    }

    /**
     * One row's super-block terms from the file's own blocks and a transcription of {@code quantize_row_q8_K_ref}:
     * S = Σ_ib (ls_ib − 32) Σ grid value·q8 over the eight sub-blocks, exactly in integers, kept as the float the
     * kernel converts it to; {@code factors[b]} = d·d_x; {@code magnitudes[b]} = Σ_ib |ls_ib − 32| Σ |grid value·q8|,
     * which bounds every partial sum of S's terms.
     */
    private static float[] terms(Tensor w, int row, float[] x, int xOffset, int cols, float[] factors, double[] magnitudes) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        float[] s = new float[cols / QK];
        for (int b = 0; b < cols / QK; b++) {
            float dx = KQuantRowGroupsTest.q8_K(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            int scalesH = data.get(ValueLayouts.I16, block + 2) & 0xFFFF;
            int sum = 0;
            long magnitude = 0;
            for (int ib = 0; ib < 8; ib++) {
                int scalesL = data.get(ValueLayouts.I8, block + 4 + ib / 2) & 0xFF;
                int ls = ((scalesL >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                int dot = 0;
                long abs = 0;
                for (int j = 0; j < 16; j++) {
                    int qs = data.get(ValueLayouts.I8, block + 8 + 16 * ib + j) & 0xFF;
                    dot += KQuantMath.IQ4NL_VALUES[qs & 0xF] * q8[32 * ib + j]
                            + KQuantMath.IQ4NL_VALUES[qs >> 4] * q8[32 * ib + 16 + j];
                    abs += Math.abs(KQuantMath.IQ4NL_VALUES[qs & 0xF] * q8[32 * ib + j])
                            + Math.abs(KQuantMath.IQ4NL_VALUES[qs >> 4] * q8[32 * ib + 16 + j]);
                }
                sum += (ls - 32) * dot;
                magnitude += Math.abs(ls - 32) * abs;
            }
            s[b] = sum;
            magnitudes[b] = magnitude;
            factors[b] = d * dx;
        }
        return s;
    }

    /** {@code acc = acc + S·(d·d_x)} super-block after super-block: a product and a sum, each rounded. */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[] factors = new float[cols / QK];
        float[] s = terms(w, row, x, xOffset, cols, factors, new double[cols / QK]);
        float acc = 0f;
        for (int b = 0; b < cols / QK; b++) {
            acc += s[b] * factors[b];
        }
        return acc;
    }

    /**
     * How far the format's vector integer kernel may drift from the group kernel: both sum the same exact integer
     * terms, the vector kernel as eight partial lane sums per super-block, each converted, multiplied by d·d_x and
     * added to its lane's running sum, the lanes reduced at the end. Each step rounds with relative error 2^-24,
     * and the errors add up to at most (the number of steps) × 2^-24 × the magnitude of what is rounded; the
     * partial sums may be far larger than S (they cancel), so the bound is taken on Σ |d·d_x| × Σ_ib |ls − 32| ×
     * Σ |grid value·q8|, which bounds them all, in double: 2^-24 × (2 × blocks + 8) times that.
     */
    private static float tolerance(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[] factors = new float[cols / QK];
        double[] magnitudes = new double[cols / QK];
        terms(w, row, x, xOffset, cols, factors, magnitudes);
        double magnitude = 0;
        for (int b = 0; b < cols / QK; b++) {
            magnitude += Math.abs((double) factors[b]) * magnitudes[b];
        }
        return (float) (Math.scalb(1.0, -24) * (2 * cols / QK + 8) * magnitude);
    }

    @Test
    void groupKernelSumsTheFormatsIntegersBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomIQ4_XS(arena, rows, cols, cols), quantizedIQ4_XS(arena, rows, cols, cols + 2)}) {
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = KQuantRowGroupsTest.activations(2 * cols, cols + 1, cols / QK + 1);
                    RowGroupChecks.assertGroupKernel(layout, arena, w, x, IQ4_XS, IQ4_XSRowGroupsTest::reference,
                            // The same integers and the same float steps as the format's scalar integer twin.
                            new RowGroupChecks.Agreement("the integer twin", IQ4_XS::dotQuantizedScalar, (t, r, v, o, c) -> 0f),
                            // The vector integer kernel rounds per lane and reduces: float rounding only.
                            new RowGroupChecks.Agreement("the integer kernel", IQ4_XS::dotQuantized, IQ4_XSRowGroupsTest::tolerance));
                }
            }
        }
    }

    @Test
    void compiledKernelStaysBitExact() {
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertCompiledKernelStaysBitExact(layout, arena, randomIQ4_XS(arena, 16, 2048, 99),
                    KQuantRowGroupsTest.activations(2 * 2048, 5, 3), IQ4_XSRowGroupsTest::reference);
        }
    }

    @Test
    void extremeIndicesAndScalesStayExact() {
        // Grid values −127 (index 0) or 113 (index 15), scales −32 (ls 0) or 31 (ls 63), activations at ±127: the
        // largest 16-bit lane sums, sub-block sums and S (8 × 32 × 32 × 127², beyond 2^24, so its conversion rounds).
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("extreme", GgmlType.IQ4_XS, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    data.set(ValueLayouts.I16, block, Half.floatToF16(r < 4 ? 0.01f * (r + 1) : -60000f));
                    for (int i = 2; i < 8; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (r % 2 == 0 ? 0x00 : 0xFF));
                    }
                    for (int i = 8; i < BLOCK_BYTES; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (r % 4 < 2 ? 0x00 : 0xFF));
                    }
                }
            }
            RowGroupChecks.assertExactAtFullScaleActivations(layout, arena, w, IQ4_XSRowGroupsTest::reference);
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomIQ4_XS(arena, 16, cols, 7), quantizedIQ4_XS(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, IQ4_XS);
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedIQ4_XS(arena, 48, cols, 11);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> KQuantRowGroupsTest.activations(batch * cols, batch, -1),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        // IQ4_XS has one half per block, d: both the NaN and the infinite half are put there.
        KQuantRowGroupsTest.assertRefusesWeightsItCannotHold(layout, GgmlType.IQ4_XS, 0, 0);
    }
}
