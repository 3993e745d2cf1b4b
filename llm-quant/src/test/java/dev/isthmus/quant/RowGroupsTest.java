package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.BlockFormat;
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
 * Q4_0's row-group layout: its kernel bit for bit against a scalar transcription of llama.cpp's repacked
 * kernel ({@code ggml_gemv_q4_0_8x8_q8_0_generic}) read from the file's own layout, its decoding against the
 * format's scalar twin, and which weights it refuses.
 */
class RowGroupsTest {
    private static final int QK = 32;
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = BlockFormats.require(GgmlType.Q4_0).rowGroups().orElseThrow();
    }

    private static Tensor q4_0(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            // Block magnitudes from 1e-6 to 10: small scales are F16 subnormals.
            double scale = Math.pow(10, -6 + 7 * ((i / QK) % 5) / 4.0);
            values[i] = (float) (random.nextGaussian() * scale);
        }
        Tensor t = Tensor.allocate("w", GgmlType.Q4_0, arena, rows, cols);
        BlockFormat f = BlockFormats.require(GgmlType.Q4_0);
        for (int r = 0; r < rows; r++) {
            f.quantize(values, r * cols, t.segment(), t.rowOffset(r), cols);
        }
        return t;
    }

    private MemorySegment pack(Arena arena, Tensor w) {
        return RowGroupChecks.pack(layout, arena, w);
    }

    /** llama.cpp's per-row arithmetic: an exact integer sum per block, then one fused multiply-add per block. */
    private static float reference(Tensor w, int row, QuantizedActivations x, int xOffset, int cols) {
        MemorySegment data = w.segment();
        float acc = 0f;
        for (int b = 0; b < cols / QK; b++) {
            long block = w.rowOffset(row) + (long) b * 18;
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                int q = data.get(ValueLayouts.I8, block + 2 + j) & 0xFF;
                sum += ((q & 0xF) - 8) * x.levels()[xOffset + b * QK + j] + ((q >> 4) - 8) * x.levels()[xOffset + b * QK + j + 16];
            }
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block)) * x.scales()[xOffset / QK + b];
            acc = Math.fma((float) sum, d, acc);
        }
        return acc;
    }

    @Test
    void groupKernelIsLlamaCppsRepackedArithmeticBitForBit() {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {32, 256, 4096 + 96}) {
                int rows = 24;
                Tensor w = q4_0(arena, rows, cols, cols);
                assertThat(layout.canPack(w)).isTrue();
                MemorySegment packed = pack(arena, w);
                SplittableRandom random = new SplittableRandom(cols + 1);
                float[] x = new float[2 * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (random.nextGaussian() * (1 + (i / QK) % 7));
                }
                QuantizedActivations qx = new QuantizedActivations();
                layout.quantizeActivations(x, 0, 2 * cols, qx);
                float[] out = new float[rows + 3];
                for (int token = 0; token < 2; token++) {
                    for (int g = 0; g < rows / layout.rows(); g++) {
                        layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
                    }
                    for (int r = 0; r < rows; r++) {
                        assertThat(out[3 + r]).as("cols %d token %d row %d", cols, token, r)
                                .isEqualTo(reference(w, r, qx, token * cols, cols));
                    }
                }
            }
        }
    }

    @Test
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels() {
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertDecodesAsTheFormat(layout, arena, q4_0(arena, 16, 320, 7), new Q4_0Format());
        }
    }

    @Test
    void cpuBackendDecodesPreparedWeightsThroughTheGroupKernel() {
        int cols = 512;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = q4_0(arena, 48, cols, 11);
            SplittableRandom random = new SplittableRandom(5);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 20, 40}, 32, batch -> {
                float[] x = new float[batch * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) random.nextGaussian();
                }
                return x;
            }, (batch, x) -> {
                QuantizedActivations qx = new QuantizedActivations();
                layout.quantizeActivations(x, 0, batch * cols, qx);
                return (b, r) -> reference(w, r, qx, b * cols, cols);
            });
        }
    }

    @Test
    void refusesWeightsItCannotHold() {
        try (Arena arena = Arena.ofConfined()) {
            assertThat(layout.canPack(q4_0(arena, 12, 64, 1))).as("rows not a multiple of 8").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f", GgmlType.F32, arena, 8, 64))).as("another format").isFalse();
            Tensor nan = q4_0(arena, 8, 64, 2);
            nan.segment().set(ValueLayouts.I16, nan.rowOffset(5) + 18, Half.floatToF16(Float.NaN));
            assertThat(layout.canPack(nan)).as("a NaN scale").isFalse();
            Tensor inf = q4_0(arena, 8, 64, 3);
            inf.segment().set(ValueLayouts.I16, inf.rowOffset(0), Half.floatToF16(Float.POSITIVE_INFINITY));
            assertThat(layout.canPack(inf)).as("an infinite scale").isFalse();
            Tensor ok = q4_0(arena, 8, 64, 4);
            MemorySegment small = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 1, small, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 1..8");
        }
    }
}
