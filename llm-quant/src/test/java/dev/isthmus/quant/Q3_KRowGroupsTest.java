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
                    assertThat(layout.canPack(w)).isTrue();
                    MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
                    // Token 1's second block (where there is one) is all zeros: Q8_K's d = 0 path.
                    float[] x = KQuantRowGroupsTest.activations(2 * cols, cols + 1, cols / QK + 1);
                    QuantizedActivations qx = new QuantizedActivations();
                    layout.quantizeActivations(x, 0, 2 * cols, qx);
                    QuantizedActivations plain = new QuantizedActivations();
                    Q3_K.quantizeActivations(x, 0, 2 * cols, plain);
                    float[] out = new float[rows + 3];
                    for (int token = 0; token < 2; token++) {
                        for (int g = 0; g < rows / layout.rows(); g++) {
                            layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
                        }
                        for (int r = 0; r < rows; r++) {
                            assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                                    .isEqualTo(reference(w, r, x, token * cols, cols));
                            // The format's own integer twin rounds per block in another order: float rounding only.
                            float twin = Q3_K.dotQuantizedScalar(w.segment(), w.rowOffset(r), plain, token * cols, cols);
                            assertThat(out[3 + r]).as("%s cols %d token %d row %d vs the integer twin", w.name(), cols, token, r)
                                    .isCloseTo(twin, within(tolerance(w, r, x, token * cols, cols)));
                        }
                    }
                }
            }
        }
    }

    @Test
    void compiledKernelStaysBitExact() {
        // Enough calls for C2 to compile the kernel (and its vector intrinsics) while it is compared.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 2048;
            int rows = 16;
            Tensor w = randomQ3_K(arena, rows, cols, 99);
            MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
            float[] x = KQuantRowGroupsTest.activations(2 * cols, 5, 3);
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, 2 * cols, qx);
            float[][] expected = new float[2][rows];
            for (int token = 0; token < 2; token++) {
                for (int r = 0; r < rows; r++) {
                    expected[token][r] = reference(w, r, x, token * cols, cols);
                }
            }
            float[] out = new float[rows];
            for (int rep = 0; rep < 3000; rep++) {
                int token = rep % 2;
                for (int g = 0; g < rows / layout.rows(); g++) {
                    layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, g * layout.rows());
                }
                for (int r = 0; r < rows; r++) {
                    if (Float.floatToRawIntBits(out[r]) != Float.floatToRawIntBits(expected[token][r])) {
                        assertThat(out[r]).as("repetition %d token %d row %d", rep, token, r).isEqualTo(expected[token][r]);
                    }
                }
            }
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
            for (float sign : new float[] {1f, -1f}) {
                float[] x = new float[cols];
                for (int i = 0; i < cols; i++) {
                    x[i] = sign * (i % 61 == 0 ? 0.97f : 1f);
                }
                QuantizedActivations qx = new QuantizedActivations();
                layout.quantizeActivations(x, 0, cols, qx);
                float[] out = new float[8];
                layout.dot(RowGroupChecks.pack(layout, arena, w), 0, qx, 0, cols, out, 0);
                for (int r = 0; r < 8; r++) {
                    assertThat(out[r]).as("sign %s row %d", sign, r).isEqualTo(reference(w, r, x, 0, cols));
                }
            }
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
