package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** What the core's row-group layout tests do alike: pack a weight, and check its decoding against the format's. */
final class RowGroupTesting {
    private RowGroupTesting() {
    }

    /** {@code w} packed group by group into memory of {@code arena}. */
    static MemorySegment pack(RowGroupLayout layout, Arena arena, Tensor w) {
        int cols = Math.toIntExact(w.dim(1));
        MemorySegment packed = arena.allocate(layout.packedBytes(w), 64);
        for (int g = 0; g < w.dim(0) / layout.rows(); g++) {
            layout.pack(w, g * layout.rows(), packed, g * layout.groupBytes(cols));
        }
        return packed;
    }

    /**
     * Decodes the 16-row {@code w}'s two groups row-major and, side by side, into one 16-row column-major panel (as
     * prefill lays weights out), and asserts every value equals {@code format}'s own decoding of the row.
     */
    static void assertDecodesAsTheFormat(RowGroupLayout layout, BlockFormat format, Arena arena, Tensor w) {
        int cols = Math.toIntExact(w.dim(1));
        MemorySegment packed = pack(layout, arena, w);
        float[] rowMajor = new float[8 * cols];
        float[] panel = new float[16 * cols];
        float[] row = new float[cols];
        for (int g = 0; g < 2; g++) {
            layout.dequantize(packed, g * layout.groupBytes(cols), cols, rowMajor, 0, cols, 1);
            layout.dequantize(packed, g * layout.groupBytes(cols), cols, panel, 8 * g, 1, 16);
            for (int r = 0; r < 8; r++) {
                format.dequantize(w.segment(), w.rowOffset(g * 8 + r), row, 0, cols);
                for (int c = 0; c < cols; c++) {
                    assertThat(rowMajor[r * cols + c]).as("row %d col %d", g * 8 + r, c).isEqualTo(row[c]);
                    assertThat(panel[c * 16 + 8 * g + r]).as("panel row %d col %d", g * 8 + r, c).isEqualTo(row[c]);
                }
            }
        }
    }
}
