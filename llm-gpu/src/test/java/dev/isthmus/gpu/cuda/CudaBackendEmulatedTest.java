package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link CudaBackend#matmul} on the emulated driver — the real Java orchestration and the real kernels on the
 * CPU — multiplies like the CPU backend for every device format, at decode (matvec) and prefill (matmul, more
 * than one 8-token tile) batch sizes, and frees all it allocated.
 */
class CudaBackendEmulatedTest {
    static Backend cpu;
    static Backend cuda;

    @BeforeAll
    static void open() {
        EmulatedDriver.load();
        cpu = Backends.create("cpu", 1);
        cuda = Backends.create("cuda", 1);
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
            cpu.close();
            assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing every backend").isZero();
        }
    }

    @Test
    void theCudaBackendRunsOnTheEmulator() {
        assertThat(cuda.name()).isEqualTo("cuda");
        assertThat(((CudaBackend) cuda).device().name()).isEqualTo(EmulatedDriver.DEVICE_NAME);
    }

    @ParameterizedTest(name = "{0} {1}x{2} batch {3}")
    @CsvSource({
        "F32, 67, 96, 1", "F32, 67, 70, 11", "F16, 64, 512, 1", "F16, 64, 512, 13",
        "Q8_0, 130, 512, 1", "Q8_0, 130, 512, 17", "Q4_0, 130, 512, 1", "Q4_0, 130, 512, 9",
        "Q4_K, 96, 1024, 1", "Q4_K, 96, 1024, 12", "Q6_K, 96, 1024, 1", "Q6_K, 96, 1024, 10",
        "BF16, 32, 256, 1", "BF16, 32, 256, 9", "Q5_K, 96, 1024, 1", "Q5_K, 96, 1024, 11", "Q5_0, 32, 512, 1",
        "Q5_0, 32, 512, 9", "Q4_1, 40, 512, 1", "Q5_1, 40, 512, 7", "IQ4_NL, 40, 512, 1", "IQ4_NL, 40, 512, 10",
        "IQ4_XS, 32, 512, 1", "IQ4_XS, 32, 512, 9", "Q2_K, 40, 512, 1", "Q2_K, 40, 512, 9", "Q3_K, 40, 512, 1",
        "Q3_K, 40, 512, 9",
        // Decode rows of one warp (F32 96 above), two (Q8_0 512 above, Q4_0 288) and four warps (Q4_K 1536, Q4_0
        // 4352 with quads not a multiple of the threads, F32 4100 with a plain tail).
        "Q4_0, 3, 288, 1", "Q4_K, 5, 1536, 1", "Q4_0, 3, 4352, 1", "F32, 3, 4100, 1"})
    void matchesTheCpuBackend(GgmlType type, int rows, int cols, int batch) {
        long launches = EmulatedDriver.launches();
        double error = MatmulComparison.compare(cpu, cuda, type, rows, cols, batch);
        // The same products summed in another order (about 2e-7 here; a GPU's fused multiply-adds move it
        // more, so CudaBackendGpuTest allows 1e-4); some formats differ more (MatmulComparison.tolerance).
        double tolerance = MatmulComparison.tolerance(type, 1e-5);
        assertThat(error).as("%s relative error vs the CPU backend", type).isLessThan(tolerance);
        assertThat(EmulatedDriver.launches()).as("kernels ran on the (emulated) device").isGreaterThan(launches);
    }

    @Test
    void weightsAreUploadedOnceAndFreedOnClose() {
        long before = EmulatedDriver.liveBytes();
        try (Arena arena = Arena.ofConfined()) {
            Backend backend = Backends.create("cuda", 1);
            Tensor a = MatmulComparison.randomWeights(GgmlType.Q4_K, 64, 512, arena, 3);
            Tensor b = MatmulComparison.randomWeights(GgmlType.Q8_0, 32, 512, arena, 4);
            float[] x = MatmulComparison.randomActivations(4 * 512, 5);
            backend.matmul(a, x, new float[4 * 64], 4);
            backend.matmul(b, x, new float[4 * 32], 4);
            long used = EmulatedDriver.liveBytes() - before;
            assertThat(used).as("both weights and the activation buffers").isGreaterThanOrEqualTo(a.byteSize() + b.byteSize());
            backend.matmul(a, x, new float[64], 1);
            assertThat(EmulatedDriver.liveBytes() - before).as("a weight already on the device is not uploaded again")
                    .isEqualTo(used);
            backend.close();
        }
        assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing the backend").isEqualTo(before);
    }

    @Test
    void anotherThreadMayMultiply() {
        // The driver's current context is per thread; the backend must make its own current on each call.
        double error = CompletableFuture.supplyAsync(() -> MatmulComparison.compare(cpu, cuda, GgmlType.Q8_0, 40, 256, 2)).join();
        assertThat(error).isLessThan(1e-4);
    }
}
