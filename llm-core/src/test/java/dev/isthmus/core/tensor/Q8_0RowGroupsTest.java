package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.backend.cpu.CpuBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Q8_0 weights in eight-row groups: the group kernel must give, bit for bit, what a scalar reference written from
 * the file's own blocks gives (the single-row kernel's order: eight float lanes per row, lane j taking the exact
 * sums over elements 4j .. 4j + 3 of each block by fused multiply-adds) and so what {@link Q8_0Format#dotQuantized}
 * gives; stay within a rounding bound of {@link Q8_0Format#dotQuantizedScalar}'s block-by-block sum; decode to the
 * format's own values; and refuse what its arithmetic does not cover.
 */
class Q8_0RowGroupsTest {
    private final Q8_0Format format = new Q8_0Format();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = format.rowGroups().orElseThrow();
    }

    /**
     * Random Q8_0 blocks over the whole level range −128..127 (every level at least once per 256 weights on average)
     * with scales from subnormal halves to 60000, zero scales and extreme levels mixed in.
     */
    static Tensor randomBlocks(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.allocate("w", GgmlType.Q8_0, arena, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                long block = t.rowOffset(r) + 34L * b;
                short d = switch (random.nextInt(8)) {
                    case 0 -> (short) random.nextInt(1, 0x400);                         // subnormal
                    case 1 -> (short) 0;                                                // zero
                    case 2 -> Half.floatToF16((float) -random.nextDouble(1000, 60000)); // large, negative
                    default -> Half.floatToF16((float) (random.nextGaussian() * 0.01));
                };
                t.segment().set(ValueLayouts.I16, block, d);
                boolean extreme = random.nextInt(4) == 0;
                for (int e = 0; e < 32; e++) {
                    int q = extreme ? (random.nextBoolean() ? -128 : 127) : random.nextInt(-128, 128);
                    t.segment().set(ValueLayouts.I8, block + 2 + e, (byte) q);
                }
            }
        }
        return t;
    }

    /** Gaussian activations, every seventh 300 times larger (most levels small, some blocks' scales large). */
    static float[] activations(int n, long seed) {
        return activations(n, seed, 300);
    }

    /** Gaussian activations, every seventh {@code outlier} times larger; 1 fills each block's levels up to ±127. */
    static float[] activations(int n, long seed, float outlier) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian() * (i % 7 == 0 ? outlier : 1);
        }
        return x;
    }

    MemorySegment pack(Arena arena, Tensor w) {
        return RowGroupTesting.pack(layout, arena, w);
    }

    /**
     * Row {@code row} · the activations from {@code xOffset}, from the file's blocks and the levels in element
     * order: per block d = d_w × d_x, lane j = fma(Σ over elements 4j .. 4j + 3, d, lane j); lanes added as
     * {@code ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7))}.
     */
    static float reference(Tensor w, int row, QuantizedActivations x, int xOffset, int cols) {
        float[] lanes = new float[8];
        for (int b = 0; b < cols / 32; b++) {
            long block = w.rowOffset(row) + 34L * b;
            float d = Half.f16ToFloat(w.segment().get(ValueLayouts.I16, block)) * x.scales()[xOffset / 32 + b];
            for (int j = 0; j < 8; j++) {
                int s = 0;
                for (int k = 0; k < 4; k++) {
                    int e = 4 * j + k;
                    s += w.segment().get(ValueLayouts.I8, block + 2 + e) * x.levels()[xOffset + 32 * b + e];
                }
                lanes[j] = Math.fma((float) s, d, lanes[j]);
            }
        }
        return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    }

    @Test
    void groupsGiveTheScalarReferenceAndTheSingleRowKernelBitForBit() {
        int rows = 32;
        for (int cols : new int[] {32, 96, 1024}) { // odd and even block counts
            try (Arena arena = Arena.ofConfined()) {
                Tensor w = randomBlocks(arena, rows, cols, cols);
                assertThat(layout.canPack(w)).isTrue();
                MemorySegment packed = pack(arena, w);
                for (float outlier : new float[] {1, 300}) {
                    float[] x = activations(cols + 64, 3, outlier);
                    QuantizedActivations grouped = new QuantizedActivations();
                    layout.quantizeActivations(x, 0, x.length, grouped);
                    QuantizedActivations single = new QuantizedActivations();
                    format.quantizeActivations(x, 0, x.length, single);
                    float[] out = new float[8];
                    for (int xOffset : new int[] {0, 64}) {
                        for (int g = 0; g < rows / 8; g++) {
                            layout.dot(packed, g * layout.groupBytes(cols), grouped, xOffset, cols, out, 0);
                            for (int r = 0; r < 8; r++) {
                                int row = g * 8 + r;
                                float expected = reference(w, row, grouped, xOffset, cols);
                                float kernel = format.dotQuantized(w.segment(), w.rowOffset(row), single, xOffset, cols);
                                assertThat(Float.floatToRawIntBits(out[r])).as("%d columns, outliers %s, row %d at %d", cols, outlier, row, xOffset)
                                        .isEqualTo(Float.floatToRawIntBits(expected))
                                        .isEqualTo(Float.floatToRawIntBits(kernel));
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Against {@link Q8_0Format#dotQuantizedScalar} (the same exact block sums, each scaled and added in block
     * order, unfused): both round at most blocks + 3 times on partial sums of the terms d·S_j, so they differ by at
     * most (2·blocks + 8)·2^−24·Σ|d·S_j|.
     */
    @Test
    void groupsStayWithinARoundingBoundOfTheBlockByBlockScalarSum() {
        int rows = 16;
        int cols = 2048;
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = randomBlocks(arena, rows, cols, 11);
            MemorySegment packed = pack(arena, w);
            float[] x = activations(cols, 5);
            QuantizedActivations grouped = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, grouped);
            QuantizedActivations single = new QuantizedActivations();
            format.quantizeActivations(x, 0, cols, single);
            float[] out = new float[8];
            for (int g = 0; g < rows / 8; g++) {
                layout.dot(packed, g * layout.groupBytes(cols), grouped, 0, cols, out, 0);
                for (int r = 0; r < 8; r++) {
                    int row = g * 8 + r;
                    double magnitude = 0;
                    for (int b = 0; b < cols / 32; b++) {
                        long block = w.rowOffset(row) + 34L * b;
                        double d = Half.f16ToFloat(w.segment().get(ValueLayouts.I16, block)) * grouped.scales()[b];
                        for (int e = 0; e < 32; e++) {
                            magnitude += Math.abs(d * w.segment().get(ValueLayouts.I8, block + 2 + e) * grouped.levels()[32 * b + e]);
                        }
                    }
                    double bound = (2.0 * cols / 32 + 8) * 0x1p-24 * magnitude;
                    float scalar = format.dotQuantizedScalar(w.segment(), w.rowOffset(row), single, 0, cols);
                    assertThat(Math.abs((double) out[r] - scalar)).as("row %d: %s against %s", row, out[r], scalar)
                            .isLessThanOrEqualTo(bound);
                }
            }
        }
    }

    @Test
    void decodesToTheFormatsValuesRowMajorAndAsColumnPanels() {
        for (int cols : new int[] {96, 128}) {
            try (Arena arena = Arena.ofConfined()) {
                Tensor w = randomBlocks(arena, 16, cols, 7);
                RowGroupTesting.assertDecodesAsTheFormat(layout, format, arena, w);
            }
        }
    }

    @Test
    void refusesInfiniteOrNaNScalesOtherFormatsAndShapes() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = randomBlocks(arena, 16, 64, 1);
            assertThat(layout.canPack(w)).isTrue();
            w.segment().set(ValueLayouts.I16, w.rowOffset(11) + 34L, (short) 0xFC00); // -infinity
            assertThat(layout.canPack(w)).as("an infinite scale").isFalse();
            w.segment().set(ValueLayouts.I16, w.rowOffset(11) + 34L, (short) 0x7E01); // NaN
            assertThat(layout.canPack(w)).as("a NaN scale").isFalse();
            assertThat(layout.canPack(randomBlocks(arena, 12, 64, 3))).as("12 rows").isFalse();
            assertThat(layout.canPack(Tensor.allocate("f16", GgmlType.F16, arena, 16, 64))).as("F16").isFalse();
            Tensor ok = randomBlocks(arena, 16, 64, 4);
            MemorySegment dst = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 12, dst, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 12..19");
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(new float[64], 0, 64, qx);
            assertThatThrownBy(() -> layout.dot(dst, 0, qx, 16, 64, new float[8], 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("of the 64 quantized");
        }
    }

    /**
     * Through the CPU backend: a prepared weight is read from its groups only (the file's bytes are overwritten
     * after {@code prepare}), and decode, short prompts (group kernel) and long prompts (panels decoded from the
     * groups) give exactly what a backend reading the file's rows gave before.
     */
    @Test
    void cpuBackendMultipliesPreparedWeightsThroughTheGroups() {
        int rows = 48;
        int cols = 256;
        int[] batches = {1, 2, 3, 6, 40};
        try (Arena arena = Arena.ofShared(); CpuBackend prepared = new CpuBackend(2); CpuBackend plain = new CpuBackend(2)) {
            Tensor w = randomBlocks(arena, rows, cols, 9);
            float[][] viaRows = new float[batches.length][];
            for (int i = 0; i < batches.length; i++) {
                viaRows[i] = new float[batches[i] * rows];
                plain.matmul(w, activations(batches[i] * cols, batches[i]), viaRows[i], batches[i]);
            }
            prepared.prepare(w);
            w.segment().fill((byte) 0);
            for (int i = 0; i < batches.length; i++) {
                float[] viaGroups = new float[batches[i] * rows];
                prepared.matmul(w, activations(batches[i] * cols, batches[i]), viaGroups, batches[i]);
                assertThat(viaGroups).as("batch %d", batches[i]).containsExactly(viaRows[i]);
            }
        }
    }
}
