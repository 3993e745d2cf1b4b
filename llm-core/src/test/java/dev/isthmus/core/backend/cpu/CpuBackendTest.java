package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The threaded, tiled matmul against a scalar double-precision oracle over the decoded weights. */
class CpuBackendTest {

    @ParameterizedTest(name = "{0} rows={1} cols={2} batch={3} threads={4}")
    @CsvSource({
            "F32, 7, 40, 1, 1", "F32, 37, 96, 3, 2", "F32, 130, 256, 5, 2",
            "F16, 9, 64, 2, 2", "F16, 66, 512, 1, 2",
            "BF16, 13, 96, 4, 1",
            "Q8_0, 5, 64, 1, 1", "Q8_0, 131, 512, 7, 2", "Q8_0, 64, 2048, 2, 2",
            "F16, 48, 96, 37, 1", "F32, 35, 40, 32, 2", "BF16, 17, 64, 45, 1", "Q8_0, 70, 64, 13, 2",
            "F32, 9, 40, 4, 1", "F32, 18, 24, 8, 1", "F16, 38, 72, 20, 2", "F16, 35, 96, 17, 2",
            "Q8_0, 21, 64, 31, 2", "BF16, 70, 64, 25, 2", "F32, 6, 40, 24, 1", "F16, 130, 128, 3, 2"})
    void matmulEqualsScalarOracle(GgmlType type, int rows, int cols, int batch, int threads) {
        BlockFormat f = BlockFormats.require(type);
        SplittableRandom r = new SplittableRandom(rows * 31L + cols);
        // Shared memory, so the multi-threaded path runs (confined memory is computed on the caller's thread).
        try (Arena arena = threads > 1 ? Arena.ofShared() : Arena.ofConfined(); CpuBackend backend = new CpuBackend(threads)) {
            Tensor w = Tensor.allocate("w", type, arena, rows, cols);
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    row[j] = (float) r.nextGaussian();
                }
                f.quantize(row, 0, w.segment(), w.rowOffset(i), cols);
            }
            float[] x = new float[batch * cols];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) r.nextGaussian();
            }
            float[] out = new float[batch * rows];
            backend.matmul(w, x, out, batch);
            float[] decoded = w.toFloatArray();
            float[] rounded = new float[cols];
            for (int b = 0; b < batch; b++) {
                f.roundActivations(x, b * cols, rounded, 0, cols);
                for (int i = 0; i < rows; i++) {
                    double expected = 0;
                    for (int j = 0; j < cols; j++) {
                        expected += (double) decoded[i * cols + j] * rounded[j];
                    }
                    assertThat((double) out[b * rows + i]).as("row %d, batch %d", i, b)
                            .isCloseTo(expected, within(1e-4 * Math.sqrt(cols) * 4));
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "2"})
    void tooSmallBuffersAreRejected(int threads) {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(threads)) {
            Tensor w = Tensor.allocate("w", GgmlType.F32, arena, 4, 8);
            assertThatThrownBy(() -> backend.matmul(w, new float[7], new float[4], 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 8 inputs");
        }
    }
}
