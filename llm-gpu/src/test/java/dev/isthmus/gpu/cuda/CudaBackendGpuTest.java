package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** On a GPU: the CUDA backend multiplies like the CPU backend. Skipped where no usable GPU is found. */
class CudaBackendGpuTest {
    static Backend cpu;
    static Backend cuda;

    @BeforeAll
    static void open() {
        assumeTrue(CudaProbe.system().available(), () -> "no usable GPU: " + CudaProbe.system().reason());
        cpu = Backends.create("cpu", 4);
        cuda = Backends.create("cuda", 1);
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
            cpu.close();
        }
    }

    @ParameterizedTest(name = "{0} {1}x{2} batch {3}")
    @CsvSource({
        "F32, 67, 96, 1", "F32, 67, 70, 3", "F16, 64, 512, 1", "F16, 64, 512, 13",
        "Q4_0, 130, 512, 1", "Q4_0, 130, 512, 9", "Q8_0, 130, 512, 1", "Q8_0, 130, 512, 17",
        "Q4_K, 96, 1024, 1", "Q4_K, 96, 1024, 8", "Q6_K, 96, 1024, 1", "Q6_K, 96, 1024, 5",
        "BF16, 32, 256, 2", "Q5_K, 96, 1024, 3", "Q5_0, 32, 512, 1", "IQ4_NL, 32, 256, 3",
        "Q4_1, 32, 512, 2", "Q5_1, 32, 512, 2", "IQ4_XS, 32, 512, 3", "Q2_K, 32, 512, 2", "Q3_K, 32, 512, 2"})
    void matchesTheCpuBackend(GgmlType type, int rows, int cols, int batch) {
        double error = MatmulComparison.compare(cpu, cuda, type, rows, cols, batch);
        // Some formats differ by more than summation order (MatmulComparison.tolerance).
        double tolerance = MatmulComparison.tolerance(type, 1e-4);
        assertThat(error).as("%s relative error vs CPU", type).isLessThan(tolerance);
    }

    @Test
    void weightsAreUploadedOnce() {
        try (Arena arena = Arena.ofConfined()) {
            CudaBackend backend = (CudaBackend) cuda;
            Tensor w = MatmulComparison.randomWeights(GgmlType.Q8_0, 32, 64, arena, 1);
            int before = backend.residentWeights();
            float[] out = new float[32];
            backend.matmul(w, new float[64], out, 1);
            backend.matmul(w.reshape(32, 64), new float[64], out, 1);
            assertThat(backend.residentWeights()).as("a second view of the same weights reuses the upload")
                    .isEqualTo(before + 1);
        }
    }
}
