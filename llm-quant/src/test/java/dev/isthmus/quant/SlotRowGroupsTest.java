package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The slot row groups of Q4_1, Q5_0 and Q5_1: the kernel bit for bit against a scalar transcription of its
 * arithmetic read from the file's own blocks, and within float rounding of the format's llama.cpp-order integer
 * twin; decoding against the format's scalar twin; the CPU backend multiplying through the groups; refusals.
 * Column counts include block counts that do not fill the last unit (3 blocks per unit for 5-bit levels, 4 for
 * Q4_1) and batches whose last unit's padding meets the next token's activations.
 */
class SlotRowGroupsTest {
    private static final int QK = 32;

    private static RowGroupLayout layout(GgmlType type) {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        return BlockFormats.require(type).rowGroups().orElseThrow();
    }

    private static Tensor quantized(GgmlType type, Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            // Block magnitudes from 1e-6 to 10 (small scales are F16 subnormals); an offset so minimums matter.
            double scale = Math.pow(10, -6 + 7 * ((i / QK) % 5) / 4.0);
            values[i] = (float) ((random.nextGaussian() + ((i / QK) % 3 - 1) * 0.7) * scale);
        }
        Tensor t = Tensor.allocate("w", type, arena, rows, cols);
        BlockFormat f = BlockFormats.require(type);
        for (int r = 0; r < rows; r++) {
            f.quantize(values, r * cols, t.segment(), t.rowOffset(r), cols);
        }
        return t;
    }

    private static float[] activations(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * (1 + (i / QK) % 7) + ((i / QK) % 2) * 0.5);
        }
        return x;
    }

    /** The file's block layout: where the nibbles, fifth bits and minimum are, and the level offset. */
    private record Block(int bytes, int nibbles, int fifthBits, int min, int levelOffset) {
        static Block of(GgmlType type) {
            return switch (type) {
                case Q4_1 -> new Block(20, 4, -1, 2, 0);
                case Q5_0 -> new Block(22, 6, 2, -1, 16);
                case Q5_1 -> new Block(24, 8, 4, 2, 0);
                default -> throw new IllegalArgumentException(type.toString());
            };
        }

        int level(MemorySegment data, long block, int i) {
            int q = data.get(ValueLayouts.I8, block + nibbles + i % 16) & 0xFF;
            int nibble = i < 16 ? q & 0x0F : q >> 4;
            int fifth = fifthBits < 0 ? 0 : (data.get(ValueLayouts.I32, block + fifthBits) >>> i) & 1;
            return nibble + 16 * fifth;
        }
    }

    /**
     * One row from the file's own blocks: per block the exact S = Σ (level − offset) × activation level, then
     * {@code acc = fma(S, d·d_x, acc)} and, with a minimum, {@code acc = fma(m, s_x, acc)}.
     */
    private static float reference(GgmlType type, Tensor w, int row, QuantizedActivations x, int xOffset, int cols) {
        Block layout = Block.of(type);
        MemorySegment data = w.segment();
        float acc = 0f;
        for (int b = 0; b < cols / QK; b++) {
            long block = w.rowOffset(row) + (long) b * layout.bytes();
            int s = 0;
            for (int i = 0; i < QK; i++) {
                s += (layout.level(data, block, i) - layout.levelOffset()) * x.levels()[xOffset + b * QK + i];
            }
            int xb = xOffset / QK + b;
            acc = Math.fma((float) s, Half.f16ToFloat(data.get(ValueLayouts.I16, block)) * x.scales()[xb], acc);
            if (layout.min() >= 0) {
                acc = Math.fma(Half.f16ToFloat(data.get(ValueLayouts.I16, block + layout.min())),
                        x.scales()[x.count() / QK + xb], acc);
            }
        }
        return acc;
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1"})
    void groupKernelIsItsArithmeticBitForBitAndCloseToTheSingleRowKernel(GgmlType type) {
        RowGroupLayout layout = layout(type);
        BlockFormat format = BlockFormats.require(type);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {32, 64, 96, 160, 4096 + 96}) {
                int rows = 24;
                Tensor w = quantized(type, arena, rows, cols, cols);
                assertThat(layout.canPack(w)).isTrue();
                MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
                float[] x = activations(2 * cols, cols + 1);
                QuantizedActivations qx = new QuantizedActivations();
                layout.quantizeActivations(x, 0, 2 * cols, qx);
                QuantizedActivations single = new QuantizedActivations();
                format.quantizeActivations(x, 0, 2 * cols, single);
                float[] out = new float[rows + 3];
                for (int token = 0; token < 2; token++) {
                    for (int g = 0; g < rows / layout.rows(); g++) {
                        layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
                    }
                    for (int r = 0; r < rows; r++) {
                        assertThat(out[3 + r]).as("%s cols %d token %d row %d", type, cols, token, r)
                                .isEqualTo(reference(type, w, r, qx, token * cols, cols));
                        // Same integers, another float order: rounding of each block's terms apart.
                        float twin = ((IntegerTwin) format).dotQuantizedScalar(w.segment(), w.rowOffset(r), single,
                                token * cols, cols);
                        float magnitude = magnitude(w, r, x, token * cols, cols, format);
                        assertThat(out[3 + r]).as("%s cols %d token %d row %d vs single-row", type, cols, token, r)
                                .isCloseTo(twin, within(1e-5f * magnitude + 1e-30f));
                    }
                }
            }
        }
    }

    /** Σ |weight × activation| of one row: the scale of the float rounding between two summation orders. */
    private static float magnitude(Tensor w, int row, float[] x, int xOffset, int cols, BlockFormat format) {
        float[] values = new float[cols];
        ((ScalarTwin) format).dequantizeScalar(w.segment(), w.rowOffset(row), values, 0, cols);
        double sum = 0;
        for (int i = 0; i < cols; i++) {
            sum += Math.abs((double) values[i] * x[xOffset + i]);
        }
        return (float) sum;
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1"})
    void decodesToTheFormatsOwnValuesRowMajorAndAsColumnPanels(GgmlType type) {
        RowGroupLayout layout = layout(type);
        try (Arena arena = Arena.ofConfined()) {
            RowGroupChecks.assertDecodesAsTheFormat(layout, arena, quantized(type, arena, 16, 320, 7),
                    (ScalarTwin) BlockFormats.require(type));
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1"})
    void cpuBackendMultipliesPreparedWeightsThroughTheGroups(GgmlType type) {
        RowGroupLayout layout = layout(type);
        int cols = 544;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = quantized(type, arena, 48, cols, 11);
            RowGroupChecks.assertBackendMultipliesThroughTheGroups(w, new int[] {1, 3, 20, 40}, 32,
                    batch -> activations(batch * cols, batch), (batch, x) -> {
                        QuantizedActivations qx = new QuantizedActivations();
                        layout.quantizeActivations(x, 0, batch * cols, qx);
                        return (b, r) -> reference(type, w, r, qx, b * cols, cols);
                    });
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1"})
    void refusesWeightsItCannotHold(GgmlType type) {
        RowGroupLayout layout = layout(type);
        Block block = Block.of(type);
        try (Arena arena = Arena.ofConfined()) {
            assertThat(layout.canPack(quantized(type, arena, 12, 64, 1))).as("rows not a multiple of 8").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f", GgmlType.F32, arena, 8, 64))).as("another format").isFalse();
            Tensor nan = quantized(type, arena, 8, 64, 2);
            nan.segment().set(ValueLayouts.I16, nan.rowOffset(5) + block.bytes(), Half.floatToF16(Float.NaN));
            assertThat(layout.canPack(nan)).as("a NaN scale").isFalse();
            if (block.min() >= 0) {
                Tensor inf = quantized(type, arena, 8, 64, 3);
                inf.segment().set(ValueLayouts.I16, inf.rowOffset(0) + block.min(), Half.floatToF16(Float.NEGATIVE_INFINITY));
                assertThat(layout.canPack(inf)).as("an infinite minimum").isFalse();
            }
            Tensor ok = quantized(type, arena, 8, 64, 4);
            MemorySegment small = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 1, small, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 1..8");
        }
    }
}
