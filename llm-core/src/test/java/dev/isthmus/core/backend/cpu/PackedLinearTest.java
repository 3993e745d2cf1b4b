package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Linear;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link CpuBackend#linear} (packed panels) and {@link Backend}'s default (a matmul per call) against a scalar
 * double-precision oracle over the decoded weights: stacked parts, bias, GELU, row counts off the panel size,
 * batches from one row to several blocks, one and two threads.
 */
class PackedLinearTest {

    @ParameterizedTest(name = "{0} parts={1} cols={2} batch={3} threads={4} {5}")
    @CsvSource({
            "F16, 16, 64, 1, 1, IDENTITY", "F16, 37, 40, 3, 2, GELU_ERF", "F16, 16;16;16, 96, 13, 2, IDENTITY",
            "F16, 48, 384, 200, 2, GELU_ERF", "F16, 130, 128, 70, 1, IDENTITY", "F16, 9;23, 32, 8, 2, GELU_ERF",
            "F32, 16, 64, 1, 1, IDENTITY", "F32, 35, 40, 32, 2, GELU_ERF", "F32, 18, 384, 180, 2, IDENTITY",
            "BF16, 17, 64, 45, 1, IDENTITY", "Q8_0, 70, 64, 13, 2, GELU_ERF", "Q8_0, 21;11, 64, 1, 2, IDENTITY"})
    void equalsTheScalarOracle(GgmlType type, String parts, int cols, int batch, int threads, Linear.Activation act) {
        SplittableRandom r = new SplittableRandom(cols * 31L + batch);
        try (Arena arena = Arena.ofShared(); CpuBackend cpu = new CpuBackend(threads)) {
            List<Tensor> stacked = new ArrayList<>();
            int rows = 0;
            for (String p : parts.split(";")) {
                int n = Integer.parseInt(p);
                stacked.add(weights(type, n, cols, r, arena));
                rows += n;
            }
            float[] bias = new float[rows];
            for (int i = 0; i < rows; i++) {
                bias[i] = (float) r.nextGaussian();
            }
            float[] x = new float[batch * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
            }
            float[] expected = oracle(stacked, bias, act, x, batch);
            Linear packed = cpu.linear(stacked, bias, act);
            assertThat(packed).as("the CPU backend packs").isInstanceOf(PackedLinear.class);
            assertThat(((PackedLinear) packed).halfPrecision()).as("kept as halves")
                    .isEqualTo(type == GgmlType.F16 || type == GgmlType.BF16);
            Linear plain = new Backend() {
                @Override
                public String name() {
                    return "plain";
                }

                @Override
                public int threads() {
                    return 1;
                }

                @Override
                public boolean supports(Tensor weight) {
                    return true;
                }

                @Override
                public void matmul(Tensor weight, float[] in, float[] out, int n, boolean referenceRounding) {
                    cpu.matmul(weight, in, out, n, referenceRounding);
                }

                @Override
                public void close() {
                }
            }.linear(stacked, bias, act);
            for (Linear layer : List.of(packed, plain)) {
                assertThat(layer.inputs()).isEqualTo(cols);
                assertThat(layer.outputs()).isEqualTo(rows);
                float[] out = new float[batch * rows + 5];
                layer.apply(x, out, batch);
                for (int i = 0; i < batch * rows; i++) {
                    assertThat((double) out[i]).as("%s: row %d, batch %d", layer, i % rows, i / rows)
                            .isCloseTo(expected[i], within(1e-5 * Math.sqrt(cols) * 4 * Math.max(1, Math.abs(expected[i]))));
                }
                assertThat(out[batch * rows]).as("nothing written past the batch").isZero();
            }
        }
    }

    @Test
    void mismatchedShapesAndSmallBuffersAreRejected() {
        try (Arena arena = Arena.ofConfined(); CpuBackend cpu = new CpuBackend(2)) {
            SplittableRandom r = new SplittableRandom(1);
            Tensor a = weights(GgmlType.F32, 4, 8, r, arena);
            Tensor b = weights(GgmlType.F32, 4, 16, r, arena);
            assertThatThrownBy(() -> cpu.linear(List.of(a, b), null, Linear.Activation.IDENTITY))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("differ in width");
            assertThatThrownBy(() -> cpu.linear(List.of(a), new float[3], Linear.Activation.IDENTITY))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias of 3");
            Linear l = cpu.linear(List.of(a), null, Linear.Activation.IDENTITY);
            assertThatThrownBy(() -> l.apply(new float[15], new float[8], 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 16 inputs");
        }
    }

    private static Tensor weights(GgmlType type, int rows, int cols, SplittableRandom r, Arena arena) {
        BlockFormat f = BlockFormats.require(type);
        Tensor w = Tensor.allocate("w", type, arena, rows, cols);
        float[] row = new float[cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) (r.nextGaussian() * 0.5);
            }
            f.quantize(row, 0, w.segment(), w.rowOffset(i), cols);
        }
        return w;
    }

    private static float[] oracle(List<Tensor> stacked, float[] bias, Linear.Activation act, float[] x, int batch) {
        int rows = bias.length;
        int cols = Math.toIntExact(stacked.get(0).dim(1));
        float[] out = new float[batch * rows];
        int at = 0;
        for (Tensor w : stacked) {
            float[] decoded = w.toFloatArray();
            int n = Math.toIntExact(w.dim(0));
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < n; i++) {
                    double s = bias[at + i];
                    for (int j = 0; j < cols; j++) {
                        s += (double) decoded[i * cols + j] * x[b * cols + j];
                    }
                    if (act == Linear.Activation.GELU_ERF) {
                        s = 0.5 * s * (1 + CpuOps.erf(s / Math.sqrt(2)));
                    }
                    out[b * rows + at + i] = (float) s;
                }
            }
            at += n;
        }
        return out;
    }
}
