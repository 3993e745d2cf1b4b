package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;


import dev.isthmus.core.backend.cpu.CpuBackend;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.BiFunction;
import java.util.function.IntFunction;

/**
 * What every row-group layout's tests do alike: pack a weight, check its decoding against the format's, and
 * check that the CPU backend multiplies prepared weights through the groups.
 */
final class RowGroupChecks {
    private RowGroupChecks() {
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
     * Decodes the 16-row {@code w}'s two groups row-major and, side by side, into one 16-row column-major panel
     * (as prefill lays weights out), and asserts every value equals the format's scalar decoding of the row.
     */
    static void assertDecodesAsTheFormat(RowGroupLayout layout, Arena arena, Tensor w, ScalarTwin format) {
        int cols = Math.toIntExact(w.dim(1));
        MemorySegment packed = pack(layout, arena, w);
        float[] rowMajor = new float[8 * cols];
        float[] panel = new float[16 * cols];
        float[] row = new float[cols];
        for (int g = 0; g < 2; g++) {
            layout.dequantize(packed, g * layout.groupBytes(cols), cols, rowMajor, 0, cols, 1);
            layout.dequantize(packed, g * layout.groupBytes(cols), cols, panel, 8 * g, 1, 16);
            for (int r = 0; r < 8; r++) {
                format.dequantizeScalar(w.segment(), w.rowOffset(g * 8 + r), row, 0, cols);
                for (int i = 0; i < cols; i++) {
                    assertThat(rowMajor[r * cols + i]).as("row %d col %d", g * 8 + r, i).isEqualTo(row[i]);
                    assertThat(panel[i * 16 + 8 * g + r]).as("panel row %d col %d", g * 8 + r, i).isEqualTo(row[i]);
                }
            }
        }
    }

    /** The value the group kernel must give for one token and row of a batch. */
    interface Expected {
        float value(int token, int row);
    }

    /**
     * Multiplies {@code w} on a CPU backend that prepared it (row groups) and on one that did not, for each of
     * {@code batches}: below {@code exactBelow} tokens (decode and short prompts, llama.cpp's repacked
     * arithmetic) every value must be bit for bit {@code expected}, given the batch's activations; from there on,
     * prefill decodes the groups to float panels, which must give the very floats the file's rows give.
     */
    static void assertBackendMultipliesThroughTheGroups(Tensor w, int[] batches, int exactBelow,
                                                        IntFunction<float[]> activations,
                                                        BiFunction<Integer, float[], Expected> expected) {
        int rows = Math.toIntExact(w.dim(0));
        try (CpuBackend prepared = new CpuBackend(2); CpuBackend plain = new CpuBackend(2)) {
            prepared.prepare(w);
            for (int batch : batches) {
                float[] x = activations.apply(batch);
                float[] viaGroups = new float[batch * rows];
                float[] viaRows = new float[batch * rows];
                prepared.matmul(w, x, viaGroups, batch);
                plain.matmul(w, x, viaRows, batch);
                if (batch < exactBelow) {
                    Expected e = expected.apply(batch, x);
                    for (int b = 0; b < batch; b++) {
                        for (int r = 0; r < rows; r++) {
                            assertThat(viaGroups[b * rows + r]).as("batch %d token %d row %d", batch, b, r)
                                    .isEqualTo(e.value(b, r));
                        }
                    }
                } else {
                    assertThat(viaGroups).as("batch %d", batch).containsExactly(viaRows);
                }
            }
        }
    }

    /** One row's product from the file's own blocks and the float activations (a scalar transcription). */
    interface RowProduct {
        float value(Tensor w, int row, float[] x, int xOffset, int cols);
    }

    /** One row's product by a single-row kernel of the format, on activations the format itself quantized. */
    interface SingleRowProduct {
        float value(MemorySegment data, long rowOffset, QuantizedActivations x, int xOffset, int cols);
    }

    /**
     * What the group kernel must also agree with: {@code product} within {@code tolerance} (a bound on the float
     * rounding between two orders of the same exact integer terms; zero where the float steps are the same).
     */
    record Agreement(String what, SingleRowProduct product, RowProduct tolerance) {
    }

    /**
     * Multiplies every group of {@code w} with two tokens of {@code x} (two rows of {@code cols}) through the
     * layout: each value must be {@code reference} bit for bit, and within each agreement's tolerance of its
     * single-row product on {@code format}'s own quantization of the activations.
     */
    static void assertGroupKernel(RowGroupLayout layout, Arena arena, Tensor w, float[] x, BlockFormat format,
                                  RowProduct reference, Agreement... agreements) {
        int rows = Math.toIntExact(w.dim(0));
        int cols = Math.toIntExact(w.dim(1));
        assertThat(layout.canPack(w)).isTrue();
        MemorySegment packed = pack(layout, arena, w);
        QuantizedActivations qx = new QuantizedActivations();
        layout.quantizeActivations(x, 0, 2 * cols, qx);
        QuantizedActivations plain = new QuantizedActivations();
        format.quantizeActivations(x, 0, 2 * cols, plain);
        float[] out = new float[rows + 3];
        for (int token = 0; token < 2; token++) {
            for (int g = 0; g < rows / layout.rows(); g++) {
                layout.dot(packed, g * layout.groupBytes(cols), qx, token * cols, cols, out, 3 + g * layout.rows());
            }
            for (int r = 0; r < rows; r++) {
                assertThat(out[3 + r]).as("%s cols %d token %d row %d", w.name(), cols, token, r)
                        .isEqualTo(reference.value(w, r, x, token * cols, cols));
                for (Agreement a : agreements) {
                    float other = a.product().value(w.segment(), w.rowOffset(r), plain, token * cols, cols);
                    assertThat(out[3 + r]).as("%s cols %d token %d row %d vs %s", w.name(), cols, token, r, a.what())
                            .isCloseTo(other, within(a.tolerance().value(w, r, x, token * cols, cols)));
                }
            }
        }
    }

    /**
     * Calls the group kernel 3000 times on the two tokens of {@code x}, enough for C2 to compile it (and its vector
     * intrinsics) while it is compared: every value must stay {@code reference} bit for bit.
     */
    static void assertCompiledKernelStaysBitExact(RowGroupLayout layout, Arena arena, Tensor w, float[] x,
                                                  RowProduct reference) {
        int rows = Math.toIntExact(w.dim(0));
        int cols = Math.toIntExact(w.dim(1));
        MemorySegment packed = pack(layout, arena, w);
        QuantizedActivations qx = new QuantizedActivations();
        layout.quantizeActivations(x, 0, 2 * cols, qx);
        float[][] expected = new float[2][rows];
        for (int token = 0; token < 2; token++) {
            for (int r = 0; r < rows; r++) {
                expected[token][r] = reference.value(w, r, x, token * cols, cols);
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

    /**
     * Multiplies the 8-row {@code w} with activations all at full scale (Q8 levels ±127, but every 61st at 0.97 of
     * it), of either sign: with extreme weights the largest lane sums a kernel must hold. Every value must be
     * {@code reference} bit for bit.
     */
    static void assertExactAtFullScaleActivations(RowGroupLayout layout, Arena arena, Tensor w, RowProduct reference) {
        int cols = Math.toIntExact(w.dim(1));
        MemorySegment packed = pack(layout, arena, w);
        for (float sign : new float[] {1f, -1f}) {
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = sign * (i % 61 == 0 ? 0.97f : 1f);
            }
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, qx);
            float[] out = new float[layout.rows()];
            layout.dot(packed, 0, qx, 0, cols, out, 0);
            for (int r = 0; r < layout.rows(); r++) {
                assertThat(out[r]).as("sign %s row %d", sign, r).isEqualTo(reference.value(w, r, x, 0, cols));
            }
        }
    }
}
