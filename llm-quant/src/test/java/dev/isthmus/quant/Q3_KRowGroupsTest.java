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
 * Q3_K's row-group layout: its kernel bit for bit against a scalar transcription of its arithmetic (an exact
 * integer sum per super-block, one FMA each) read from the file's own blocks, and
 * close to the format's scalar integer twin; its decoding against the format's scalar twin; which weights it
 * refuses; and the CPU backend multiplying through it.
 */
class Q3_KRowGroupsTest {
    private static final int QK = 256;
    private static final int BLOCK_BYTES = 110;
    private static final Q3_KFormat Q3_K = new Q3_KFormat();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q3_K).rowGroups().orElseThrow();
    }

    /** Random block bytes: every level, high bit and scale occurs; d a finite half of either sign, 1e-7 to 6e4. */
    private static Tensor randomQ3_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.randomBlocks(GgmlType.Q3_K, arena, rows, cols, seed, 108, 108);
    }

    private static Tensor quantizedQ3_K(Arena arena, int rows, int cols, long seed) {
        return KQuantRowGroupsTest.quantized(GgmlType.Q3_K, arena, rows, cols, seed);
    }

    /**
     * One row's super-block sums from the file's own blocks and a transcription of {@code quantize_row_q8_K_ref}:
     * S = Σ_j (scale_j − 32)·Σ level·q8 over the 16 sub-blocks j, exactly in integers, each kept as the float the
     * kernel converts it to; {@code factors[b]} = d·d_x of super-block b.
     */
    private static float[] sums(Tensor w, int row, float[] x, int xOffset, int cols, float[] factors) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        int blocks = cols / QK;
        float[] s = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            float dx = KQuantRowGroupsTest.q8_K(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block + 108));
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                int dot = 0;
                for (int l = 0; l < 16; l++) {
                    int i = 16 * j + l;
                    // Weight 128n + 32j' + k: low bits 2j', 2j' + 1 of qs[32n + k], high bit 4n + j' of hmask[k]
                    // (clear: minus 4).
                    int low = data.get(ValueLayouts.I8, block + 32 + 32 * (i / 128) + i % 32) >> (2 * (i % 128 / 32)) & 3;
                    int high = data.get(ValueLayouts.I8, block + i % 32) >> (i / 32) & 1;
                    dot += (low - (high == 0 ? 4 : 0)) * q8[i];
                }
                sum += (scale(data, block, j) - 32) * dot;
            }
            s[b] = sum;
            factors[b] = d * dx;
        }
        return s;
    }

    /** ggml's 6-bit scale j (0..63, stored +32) from the 12 bytes at 96: low nibble, then two high bits. */
    private static int scale(MemorySegment data, long block, int j) {
        int lowByte = data.get(ValueLayouts.I8, block + 96 + j % 8) & 0xFF;
        int low = j < 8 ? lowByte & 0xF : lowByte >> 4;
        int high = (data.get(ValueLayouts.I8, block + 104 + j % 4) & 0xFF) >> (2 * (j / 4)) & 3;
        return low | high << 4;
    }

    /** {@code acc = fma(S, d·d_x, acc)} super-block after super-block. */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[] factors = new float[cols / QK];
        float[] s = sums(w, row, x, xOffset, cols, factors);
        float acc = 0f;
        for (int b = 0; b < cols / QK; b++) {
            acc = Math.fma(s[b], factors[b], acc);
        }
        return acc;
    }

    /**
     * How far two float evaluations of the same exact integer sums may drift apart: each rounds a product or sum
     * per term with relative error 2^-24, and the rounding errors add up to at most (a few more than the number of
     * terms) × 2^-24 × Σ|term|. The result itself may cancel to near zero, so the bound is taken on the terms'
     * magnitudes, in double: 2^-24 × (2 × blocks + 4) × Σ |d·d_x·S|.
     */
    private static float tolerance(Tensor w, int row, float[] x, int xOffset, int cols) {
        float[] factors = new float[cols / QK];
        float[] s = sums(w, row, x, xOffset, cols, factors);
        double magnitude = 0;
        for (int b = 0; b < cols / QK; b++) {
            magnitude += Math.abs((double) s[b] * factors[b]);
        }
        return (float) (Math.scalb(1.0, -24) * (2 * cols / QK + 4) * magnitude);
    }

    @Test
    void groupKernelSumsTheFormatsIntegersBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {256, 768, 4096 + 256}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomQ3_K(arena, rows, cols, cols), quantizedQ3_K(arena, rows, cols, cols + 2)}) {
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = KQuantRowGroupsTest.activations(2 * cols, cols + 1, cols / QK + 1);
                    RowGroupChecks.assertGroupKernel(layout, arena, w, x, Q3_K, Q3_KRowGroupsTest::reference,
                            // The format's own integer twin rounds per block in another order: float rounding only.
                            new RowGroupChecks.Agreement("the integer twin", Q3_K::dotQuantizedScalar, Q3_KRowGroupsTest::tolerance));
                }
            }
        }
    }

    @Test
    void compiledKernelStaysBitExact() {
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertCompiledKernelStaysBitExact(layout, arena, randomQ3_K(arena, 16, 2048, 99),
                    KQuantRowGroupsTest.activations(2 * 2048, 5, 3), Q3_KRowGroupsTest::reference);
        }
    }

    @Test
    void extremeLevelsAndScalesStayExact() {
        // Levels −4 with scales −32 (all bytes 0) and levels 3 with scales 31 (all bytes 0xFF), activations at
        // ±127: the largest 16-bit lane sums (nibbles 7 times 127) and |S| = 16 × 32 × 16 × 4 × 127, just below 2^22.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            Tensor w = Tensor.allocate("extreme", GgmlType.Q3_K, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    for (int i = 0; i < 108; i++) {
                        data.set(ValueLayouts.I8, block + i, (byte) (r % 4 == 3 ? 0xFF : 0x00));
                    }
                    data.set(ValueLayouts.I16, block + 108, Half.floatToF16(r < 4 ? 0.01f * (r + 1) : -60000f));
                }
            }
            RowGroupChecks.assertExactAtFullScaleActivations(layout, arena, w, Q3_KRowGroupsTest::reference);
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 512;
            for (Tensor w : new Tensor[] {randomQ3_K(arena, 16, cols, 7), quantizedQ3_K(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, Q3_K);
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedQ3_K(arena, 48, cols, 11);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> KQuantRowGroupsTest.activations(batch * cols, batch, -1),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        KQuantRowGroupsTest.assertRefusesWeightsItCannotHold(layout, GgmlType.Q3_K, 108, 108);
    }
}
