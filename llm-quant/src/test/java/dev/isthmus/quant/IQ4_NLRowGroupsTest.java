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
 * IQ4_NL's row-group layout: its kernel bit for bit against a scalar transcription of llama.cpp's repacked
 * kernel ({@code ggml_gemv_iq4_nl_8x8_q8_0}) on activations quantized by a transcription of AVX2
 * {@code quantize_row_q8_0}, reading the file's own layout; extreme grid values and activations, where 16-bit
 * sums would overflow; its decoding against the format's scalar twin; and which weights it refuses.
 */
class IQ4_NLRowGroupsTest {
    private static final int QK = 32;
    private static final int BLOCK_BYTES = 18;
    /** ggml's kvalues_iq4nl, written out here so that the oracle does not read the code under test. */
    private static final int[] GRID = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.IQ4_NL).rowGroups().orElseThrow();
    }

    /** Random nibbles and finite scales of either sign, F16 subnormals included. */
    private static Tensor randomIq4(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.allocate("w", GgmlType.IQ4_NL, arena, rows, cols);
        MemorySegment data = t.segment();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / QK; b++) {
                long block = t.rowOffset(r) + (long) b * BLOCK_BYTES;
                float magnitude = (float) Math.pow(10, -7 + 11.7 * random.nextDouble());
                data.set(ValueLayouts.I16, block, Half.floatToF16(random.nextInt(8) == 0 ? -magnitude : magnitude));
                for (int i = 2; i < BLOCK_BYTES; i++) {
                    data.set(ValueLayouts.I8, block + i, (byte) random.nextInt(256));
                }
            }
        }
        return t;
    }

    private static Tensor quantizedIq4(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(10, -3 + (i / QK) % 4));
        }
        Tensor t = Tensor.allocate("w", GgmlType.IQ4_NL, arena, rows, cols);
        for (int r = 0; r < rows; r++) {
            new IQ4_NLFormat().quantize(values, r * cols, t.segment(), t.rowOffset(r), cols);
        }
        return t;
    }

    private static float[] activations(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * (1 + (i / QK) % 7));
        }
        return x;
    }

    private MemorySegment pack(Arena arena, Tensor w) {
        return RowGroupChecks.pack(layout, arena, w);
    }

    /** AVX2 {@code quantize_row_q8_0} for the 32 activations at {@code from}: levels into {@code q}, returns d. */
    private static float q8_0(float[] x, int from, int[] q) {
        float amax = 0f;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(x[from + j]));
        }
        float id = amax != 0f ? 127f / amax : 0f;
        for (int j = 0; j < QK; j++) {
            q[j] = (int) Math.rint(x[from + j] * id);
        }
        return Half.f16ToFloat(Half.floatToF16(amax / 127f));
    }

    /** llama.cpp's per-row arithmetic: an exact integer sum per block, then one fused multiply-add per block. */
    private static float reference(Tensor w, int row, float[] x, int xOffset, int cols) {
        MemorySegment data = w.segment();
        int[] q8 = new int[QK];
        float acc = 0f;
        for (int b = 0; b < cols / QK; b++) {
            float dx = q8_0(x, xOffset + b * QK, q8);
            long block = w.rowOffset(row) + (long) b * BLOCK_BYTES;
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                int q = data.get(ValueLayouts.I8, block + 2 + j) & 0xFF;
                sum += GRID[q & 0xF] * q8[j] + GRID[q >> 4] * q8[j + 16];
            }
            acc = Math.fma((float) sum, Half.f16ToFloat(data.get(ValueLayouts.I16, block)) * dx, acc);
        }
        return acc;
    }

    private void assertGroupsMatchReference(Tensor w, float[] x, int rows, int cols, MemorySegment packed) {
        QuantizedActivations qx = new QuantizedActivations();
        layout.quantizeActivations(x, 0, x.length, qx);
        float[] out = new float[rows + 3];
        for (int token = 0; token < x.length / cols; token++) {
            for (int g = 0; g < rows / layout.rows(); g++) {
                layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
            }
            for (int r = 0; r < rows; r++) {
                assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                        .isEqualTo(reference(w, r, x, token * cols, cols));
            }
        }
    }

    @Test
    void groupKernelIsLlamaCppsRepackedArithmeticBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {32, 256, 4096 + 96}) {
                int rows = 24;
                for (Tensor w : new Tensor[] {randomIq4(arena, rows, cols, cols), quantizedIq4(arena, rows, cols, cols + 5)}) {
                    assertThat(layout.canPack(w)).isTrue();
                    assertGroupsMatchReference(w, activations(2 * cols, cols + 1), rows, cols, pack(arena, w));
                }
            }
        }
    }

    @Test
    void extremeGridValuesAndActivationsDoNotOverflow() {
        // Every nibble 0 (grid −127) against activations at ±127: each product is ±16129, and a row's block sum
        // reaches ±516128, far beyond a 16-bit lane.
        try (Arena arena = Arena.ofConfined()) {
            int cols = 256;
            Tensor w = Tensor.allocate("w", GgmlType.IQ4_NL, arena, 8, cols);
            MemorySegment data = w.segment();
            for (int r = 0; r < 8; r++) {
                for (int b = 0; b < cols / QK; b++) {
                    long block = w.rowOffset(r) + (long) b * BLOCK_BYTES;
                    data.set(ValueLayouts.I16, block, Half.floatToF16(0.5f));
                    for (int i = 2; i < BLOCK_BYTES; i++) {
                        // Row 7 alternates −127 and 113 (nibble 15), the grid's two ends.
                        data.set(ValueLayouts.I8, block + i, (byte) (r == 7 && i % 2 == 0 ? 0xF0 : 0x00));
                    }
                }
            }
            float[] x = new float[2 * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = i < cols ? -3f : (i % 2 == 0 ? 3f : -3f);
            }
            assertGroupsMatchReference(w, x, 8, cols, pack(arena, w));
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, qx);
            float[] out = new float[8];
            layout.dot(pack(arena, w), 0, qx, 0, cols, out, 0);
            // Not wrapped: 256 products of (−127)·(−127), times 0.5 and the activations' F16 scale.
            double expected = 256.0 * 127 * 127 * 0.5 * Half.f16ToFloat(Half.floatToF16(3f / 127f));
            assertThat((double) out[0]).isCloseTo(expected, org.assertj.core.data.Percentage.withPercentage(1e-4));
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            int cols = 320;
            for (Tensor w : new Tensor[] {randomIq4(arena, 16, cols, 7), quantizedIq4(arena, 16, cols, 8)}) {
                RowGroupChecks.assertDecodesAsTheFormat(layout, arena, w, new IQ4_NLFormat());
            }
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantizedIq4(arena, 48, cols, 11);
            // llama.cpp's 4-token kernel rounds each row as its 1-token one.
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 6, 40}, 16,
                    batch -> activations(batch * cols, batch),
                    (batch, x) -> (b, r) -> reference(w, r, x, b * cols, cols));
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        try (Arena arena = Arena.ofConfined()) {
            assertThat(layout.canPack(quantizedIq4(arena, 12, 64, 1))).as("rows not a multiple of 8").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f", GgmlType.F32, arena, 8, 64))).as("another format").isFalse();
            Tensor nan = quantizedIq4(arena, 8, 64, 2);
            nan.segment().set(ValueLayouts.I16, nan.rowOffset(5) + BLOCK_BYTES, Half.floatToF16(Float.NaN));
            assertThat(layout.canPack(nan)).as("a NaN scale").isFalse();
            Tensor inf = quantizedIq4(arena, 8, 64, 3);
            inf.segment().set(ValueLayouts.I16, inf.rowOffset(0), Half.floatToF16(Float.POSITIVE_INFINITY));
            assertThat(layout.canPack(inf)).as("an infinite scale").isFalse();
            Tensor ok = quantizedIq4(arena, 8, 64, 4);
            assertThat(layout.canPack(ok)).isTrue();
            MemorySegment small = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 1, small, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 1..8");
        }
    }
}
