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
 * F16 weights in eight-row groups: the group kernel must give, bit for bit, what {@link F16Format#dot} gives each
 * row on activations rounded to F16 — over every finite half pattern (zeros, subnormals, the largest) — decode
 * to the file's values row-major and as prefill's column panels, and refuse what its arithmetic does not cover.
 */
class F16RowGroupsTest {
    private final F16Format format = new F16Format();
    private RowGroupLayout layout;

    @BeforeEach
    void layout() {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        layout = format.rowGroups().orElseThrow();
    }

    /** {@code rows x cols} halves cycling through every finite bit pattern from {@code first}, shuffled by row. */
    static Tensor everyFiniteHalf(Arena arena, int rows, int cols, int first) {
        Tensor t = Tensor.allocate("w", GgmlType.F16, arena, rows, cols);
        int h = first;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                do {
                    h = (h + 1) & 0xFFFF;
                } while ((h & 0x7C00) == 0x7C00);
                t.segment().set(ValueLayouts.I16, t.rowOffset(r) + 2L * c, (short) h);
            }
        }
        return t;
    }

    static Tensor gaussian(Arena arena, int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Tensor t = Tensor.allocate("w", GgmlType.F16, arena, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t.segment().set(ValueLayouts.I16, t.rowOffset(r) + 2L * c,
                        Half.floatToF16((float) (random.nextGaussian() * 0.05)));
            }
        }
        return t;
    }

    static float[] activations(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian() * (i % 7 == 0 ? 300 : 1);
        }
        return x;
    }

    MemorySegment pack(Arena arena, Tensor w) {
        return RowGroupTesting.pack(layout, arena, w);
    }

    @Test
    void everyFiniteHalfGivesTheSingleRowKernelsResultBitForBit() {
        int rows = 64;
        int cols = 1000;
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = everyFiniteHalf(arena, rows, cols, 0); // 64 000 values: every finite pattern at least once
            assertThat(layout.canPack(w)).isTrue();
            MemorySegment packed = pack(arena, w);
            float[] x = activations(cols + 16, 3);
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, x.length, qx);
            float[] rounded = new float[x.length];
            format.roundActivations(x, 0, rounded, 0, x.length);
            float[] out = new float[8];
            for (int xOffset : new int[] {0, 16}) {
                for (int g = 0; g < rows / 8; g++) {
                    layout.dot(packed, g * layout.groupBytes(cols), qx, xOffset, cols, out, 0);
                    for (int r = 0; r < 8; r++) {
                        float expected = format.dot(w.segment(), w.rowOffset(g * 8 + r), rounded, xOffset, cols);
                        assertThat(Float.floatToRawIntBits(out[r])).as("row %d at %d", g * 8 + r, xOffset)
                                .isEqualTo(Float.floatToRawIntBits(expected));
                    }
                }
            }
        }
    }

    @Test
    void decodesToTheFilesValuesRowMajorAndAsColumnPanels() {
        int cols = 96;
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = everyFiniteHalf(arena, 16, cols, 0x3000);
            RowGroupTesting.assertDecodesAsTheFormat(layout, format, arena, w);
        }
    }

    @Test
    void refusesInfinitiesNaNsAndShapesItsOrderDoesNotCover() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = gaussian(arena, 16, 64, 1);
            assertThat(layout.canPack(w)).isTrue();
            w.segment().set(ValueLayouts.I16, w.rowOffset(11) + 2L * 40, (short) 0xFC00); // -infinity
            assertThat(layout.canPack(w)).as("an infinity").isFalse();
            w.segment().set(ValueLayouts.I16, w.rowOffset(11) + 2L * 40, (short) 0x7E01); // NaN
            assertThat(layout.canPack(w)).as("a NaN").isFalse();
            Tensor tail = gaussian(arena, 8, 72, 5);
            assertThat(layout.canPack(tail)).isTrue();
            tail.segment().set(ValueLayouts.I16, tail.rowOffset(7) + 2L * 70, (short) 0x7C00); // +infinity, in the tail
            assertThat(layout.canPack(tail)).as("an infinity past the last 16 columns").isFalse();
            assertThat(layout.canPack(gaussian(arena, 16, 60, 2))).as("60 columns").isFalse();
            assertThat(layout.canPack(gaussian(arena, 12, 64, 3))).as("12 rows").isFalse();
            Tensor ok = gaussian(arena, 16, 64, 4);
            MemorySegment dst = arena.allocate(layout.packedBytes(ok));
            assertThatThrownBy(() -> layout.pack(ok, 12, dst, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows 12..19");
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(new float[64], 0, 64, qx);
            assertThatThrownBy(() -> layout.dot(dst, 0, qx, 8, 64, new float[8], 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("64 activations");
        }
    }

    /**
     * Through the CPU backend: decode and short prompts run the group kernel, each token bit for bit its own
     * decode step (llama.cpp sums every token of a short F16 prompt so; without groups such prompts go through a
     * float kernel of another order); long prompts the float panels decoded from the groups, the very floats of
     * the file's rows.
     */
    @Test
    void cpuBackendMultipliesPreparedWeightsThroughTheGroups() {
        int rows = 48;
        int cols = 256;
        try (Arena arena = Arena.ofShared(); CpuBackend prepared = new CpuBackend(2); CpuBackend plain = new CpuBackend(2)) {
            Tensor w = gaussian(arena, rows, cols, 9);
            prepared.prepare(w);
            for (int batch : new int[] {1, 3, 6, 40}) {
                float[] x = activations(batch * cols, batch);
                float[] viaGroups = new float[batch * rows];
                float[] viaRows = new float[batch * rows];
                prepared.matmul(w, x, viaGroups, batch);
                plain.matmul(w, x, viaRows, batch);
                if (batch < 16) {
                    float[] rounded = new float[cols];
                    for (int b = 0; b < batch; b++) {
                        format.roundActivations(x, b * cols, rounded, 0, cols);
                        for (int r = 0; r < rows; r++) {
                            assertThat(viaGroups[b * rows + r]).as("batch %d token %d row %d", batch, b, r)
                                    .isEqualTo(format.dot(w.segment(), w.rowOffset(r), rounded, 0, cols));
                        }
                    }
                } else {
                    assertThat(viaGroups).as("batch %d", batch).containsExactly(viaRows);
                }
            }
        }
    }
}
