package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.gpu.cuda.ffi.CuDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The emulated driver itself (src/test/cuda/emulator), through its own test kernels (selftest_kernels.cu):
 * barriers, shuffles and the built-in variables behave as CUDA documents them, and broken kernels or calls
 * fail with an error naming the cause instead of hanging or corrupting memory.
 */
class EmulatorTest {
    static final List<String> SELF_TEST_KERNELS = List.of("emu_block_sum", "emu_early_return", "emu_shuffles",
            "emu_thread_ids", "emu_deadlock", "emu_shuffle_from_returned", "emu_trap");

    static CudaContext ctx;

    @BeforeAll
    static void open() {
        EmulatedDriver.load();
        ctx = CudaContext.open(CudaProbe.system().devices().getFirst());
        ctx.loadModule(ptx(SELF_TEST_KERNELS));
    }

    @AfterAll
    static void close() {
        if (ctx != null) {
            ctx.close();
            assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing the context").isZero();
        }
    }

    /** A PTX text declaring {@code kernels}: the emulator takes a module's kernels from its .entry names. */
    static byte[] ptx(List<String> kernels) {
        StringBuilder s = new StringBuilder("// the emulator's self-test kernels\n.version 9.0\n.target sm_75\n.address_size 64\n");
        for (String k : kernels) {
            s.append("\n.visible .entry ").append(k).append("()\n{\n\tret;\n}\n");
        }
        return (s + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {32, 256, 1024})
    void blockSumsMatchTheSameTreeOfAdditions(int threads) {
        int rows = 5;
        int n = 1000;
        float[] x = new float[rows * n];
        Random random = new Random(threads);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        try (DeviceBuffer dx = DeviceArrays.upload(ctx, x, "x"); DeviceBuffer dout = ctx.allocate(4L * rows, "sums")) {
            ctx.launch("emu_block_sum", new LaunchConfig(rows, 1, threads, 0), new KernelArgs().pointer(dx).pointer(dout).i32(n));
            float[] sums = DeviceArrays.floats(ctx, dout, rows);
            for (int r = 0; r < rows; r++) {
                // Same additions in the same order: any thread let through a barrier early changes the bits.
                float[] part = new float[threads];
                for (int t = 0; t < threads; t++) {
                    for (int i = t; i < n; i += threads) {
                        part[t] += x[r * n + i];
                    }
                }
                for (int half = threads / 2; half > 0; half /= 2) {
                    for (int t = 0; t < half; t++) {
                        part[t] += part[t + half];
                    }
                }
                assertThat(sums[r]).as("row %d", r).isEqualTo(part[0]);
            }
        }
    }

    @Test
    void returnedThreadsDoNotHoldUpABarrier() {
        int threads = 96;
        int live = 40;
        int[] in = new int[threads];
        Arrays.setAll(in, i -> 1000 + i);
        try (DeviceBuffer din = DeviceArrays.upload(ctx, in, "in"); DeviceBuffer dout = ctx.allocate(4L * threads, "out")) {
            ctx.launch("emu_early_return", new LaunchConfig(1, 1, threads, 0),
                    new KernelArgs().pointer(din).pointer(dout).i32(live));
            int[] out = DeviceArrays.ints(ctx, dout, threads);
            for (int t = 0; t < threads; t++) {
                // Device memory starts as 0xff bytes: -1 where the returned threads wrote nothing.
                assertThat(out[t]).as("thread %d", t).isEqualTo(t < live ? in[(t + 1) % live] : -1);
            }
        }
    }

    @ParameterizedTest(name = "width {0}")
    @ValueSource(ints = {32, 16, 8, 4})
    void shufflesFollowCudasLaneRules(int width) {
        int threads = 64;
        int[] in = new int[threads];
        Random random = new Random(width);
        Arrays.setAll(in, i -> random.nextInt(1000));
        try (DeviceBuffer din = DeviceArrays.upload(ctx, in, "in"); DeviceBuffer dout = ctx.allocate(20L * threads, "out");
             DeviceBuffer dwide = ctx.allocate(8L * threads, "wide")) {
            ctx.launch("emu_shuffles", new LaunchConfig(1, 1, threads, 0),
                    new KernelArgs().pointer(din).pointer(dout).pointer(dwide).i32(width));
            int[] out = DeviceArrays.ints(ctx, dout, 5 * threads);
            long[] wide = DeviceArrays.longs(ctx, dwide, threads);
            for (int t = 0; t < threads; t++) {
                int warp = t / 32 * 32;
                int lane = t % 32;
                int start = lane / width * width;
                int end = start + width;
                // The CUDA programming guide's rules: a source past the segment's end (xor, down) or before its
                // start (up) leaves the caller's own value; __shfl_sync takes srcLane modulo width.
                int xor = lane ^ 5;
                int down = lane + 3;
                int up = lane - 2;
                assertThat(out[5 * t]).as("xor 5, thread %d", t).isEqualTo(xor < end ? in[warp + xor] : in[t]);
                assertThat(out[5 * t + 1]).as("down 3, thread %d", t).isEqualTo(down < end ? in[warp + down] : in[t]);
                assertThat(out[5 * t + 2]).as("up 2, thread %d", t).isEqualTo(up >= start ? in[warp + up] : in[t]);
                assertThat(out[5 * t + 3]).as("lane 7, thread %d", t).isEqualTo(in[warp + start + 7 % width]);
                int sum = 0;
                for (int l = start; l < end; l++) {
                    sum += in[warp + l];
                }
                assertThat(out[5 * t + 4]).as("butterfly sum, thread %d", t).isEqualTo(sum);
                int partner = t ^ 1;
                assertThat(wide[t]).as("64-bit xor 1, thread %d", t).isEqualTo(((long) in[partner] << 32) | partner);
            }
        }
    }

    @Test
    void everyThreadOfA3dGridSeesItsOwnIndices() {
        int[] grid = {3, 2, 2};
        int[] block = {8, 4, 2};
        int threads = 3 * 2 * 2 * 8 * 4 * 2;
        try (DeviceBuffer dout = ctx.allocate(48L * threads, "ids"); Arena arena = Arena.ofConfined()) {
            MemorySegment params = new KernelArgs().pointer(dout).build(arena);
            Cuda.check(CuDriver.cuLaunchKernel(ctx.function("emu_thread_ids"), grid[0], grid[1], grid[2], block[0], block[1],
                    block[2], 0, MemorySegment.NULL, params, MemorySegment.NULL), "cuLaunchKernel");
            int[] out = DeviceArrays.ints(ctx, dout, 12 * threads);
            int g = 0;
            for (int bz = 0; bz < grid[2]; bz++) {
                for (int by = 0; by < grid[1]; by++) {
                    for (int bx = 0; bx < grid[0]; bx++) {
                        for (int tz = 0; tz < block[2]; tz++) {
                            for (int ty = 0; ty < block[1]; ty++) {
                                for (int tx = 0; tx < block[0]; tx++) {
                                    int[] expected = {tx, ty, tz, bx, by, bz, block[0], block[1], block[2], grid[0], grid[1], grid[2]};
                                    assertThat(Arrays.copyOfRange(out, 12 * g, 12 * g + 12))
                                            .as("thread (%d,%d,%d) of block (%d,%d,%d)", tx, ty, tz, bx, by, bz)
                                            .containsExactly(expected);
                                    g++;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void aDeadlockFailsTheLaunchAndTheNextLaunchRuns() {
        try (DeviceBuffer dout = ctx.allocate(4L * 64, "out")) {
            assertThatThrownBy(() -> ctx.launch("emu_deadlock", new LaunchConfig(1, 1, 64, 0), new KernelArgs().pointer(dout)))
                    .isInstanceOf(CudaException.class)
                    .hasMessageContaining("CUDA_ERROR_LAUNCH_FAILED")
                    .hasMessageContaining("deadlock: 32 wait at __syncthreads, 32 at a warp barrier");
        }
        blockSumsMatchTheSameTreeOfAdditions(64);
    }

    @Test
    void shufflingFromAReturnedLaneFails() {
        try (DeviceBuffer dout = ctx.allocate(4L * 64, "out")) {
            assertThatThrownBy(() -> ctx.launch("emu_shuffle_from_returned", new LaunchConfig(1, 1, 64, 0),
                    new KernelArgs().pointer(dout)))
                    .isInstanceOf(CudaException.class)
                    .hasMessageContaining("CUDA_ERROR_LAUNCH_FAILED")
                    .hasMessageContaining("thread (1,0,0): __shfl_xor_sync: lane 1 reads lane 0, which returned before this shuffle");
        }
    }

    @Test
    void aTrapFailsTheLaunchNamingTheThread() {
        try (DeviceBuffer dout = ctx.allocate(4L * 128, "out")) {
            assertThatThrownBy(() -> ctx.launch("emu_trap", new LaunchConfig(4, 1, 32, 0), new KernelArgs().pointer(dout)))
                    .isInstanceOf(CudaException.class)
                    .hasMessageContaining("emu_trap, block (1,0,0), thread (3,0,0): __trap()");
        }
    }

    @Test
    void blocksOfMoreThan1024ThreadsAreRefused() {
        try (DeviceBuffer dout = ctx.allocate(48L * 1056, "ids"); Arena arena = Arena.ofConfined()) {
            long launches = EmulatedDriver.launches();
            int rc = CuDriver.cuLaunchKernel(ctx.function("emu_thread_ids"), 1, 1, 1, 32, 33, 1, 0, MemorySegment.NULL,
                    new KernelArgs().pointer(dout).build(arena), MemorySegment.NULL);
            assertThat(rc).as("32 x 33 threads").isEqualTo(1); // CUDA_ERROR_INVALID_VALUE
            assertThat(EmulatedDriver.lastError()).contains("over 1024 threads");
            assertThat(EmulatedDriver.launches()).as("nothing ran").isEqualTo(launches);
        }
    }

    @Test
    void pointerParametersOutsideDeviceMemoryAreRefused() {
        try (Arena arena = Arena.ofConfined(); DeviceBuffer dout = ctx.allocate(4, "out")) {
            long host = arena.allocate(4000).address();
            assertThatThrownBy(() -> ctx.launch("emu_block_sum", new LaunchConfig(1, 1, 32, 0),
                    new KernelArgs().pointer(host).pointer(dout).i32(1000)))
                    .isInstanceOfSatisfying(CudaException.class, e -> assertThat(e.result()).isEqualTo(700))
                    .hasMessageContaining("parameter 0 is 0x" + Long.toHexString(host) + ", which is not in device memory");
        }
    }

    @Test
    void aKernelMissingFromTheModuleIsNotFound() {
        assertThatThrownBy(() -> ctx.function("matvec_f32"))
                .isInstanceOfSatisfying(CudaException.class, e -> assertThat(e.result()).isEqualTo(500))
                .hasMessageContaining("CUDA_ERROR_NOT_FOUND").hasMessageContaining("no .entry matvec_f32");
    }

    @Test
    void launchesAreCounted() {
        long before = EmulatedDriver.launches();
        blockSumsMatchTheSameTreeOfAdditions(32);
        assertThat(EmulatedDriver.launches()).isEqualTo(before + 1);
    }

    @Test
    void freeMemoryIsTheTotalLessWhatIsAllocated() {
        long total = CudaProbe.system().devices().getFirst().totalMemory();
        long live = EmulatedDriver.liveBytes();
        try (DeviceBuffer b = ctx.allocate(1 << 20, "1 MiB")) {
            assertThat(EmulatedDriver.liveBytes()).isEqualTo(live + (1 << 20));
            assertThat(ctx.freeMemory()).isEqualTo(total - live - (1 << 20));
        }
        assertThat(EmulatedDriver.liveBytes()).isEqualTo(live);
    }

    @Test
    void allocatingMoreThanTheDeviceHasFailsNamingWhatIsFree() {
        long total = CudaProbe.system().devices().getFirst().totalMemory();
        assertThatThrownBy(() -> ctx.allocate(total + 1, "too big"))
                .isInstanceOfSatisfying(CudaException.class, e -> assertThat(e.result()).isEqualTo(2))
                .hasMessageContaining("CUDA_ERROR_OUT_OF_MEMORY").hasMessageContaining("too big");
    }

    @Test
    void freshDeviceMemoryIsNotZero() {
        try (DeviceBuffer b = ctx.allocate(64, "fresh")) {
            assertThat(DeviceArrays.ints(ctx, b, 16)).as("0xff bytes, like stale device memory").containsOnly(-1);
        }
    }

    @Test
    void freeingAnAddressThatWasNotAllocatedIsAnError() {
        try (DeviceBuffer b = ctx.allocate(256, "b")) {
            assertThat(CuDriver.cuMemFree_v2(b.address() + 16)).as("inside an allocation").isEqualTo(1);
            assertThat(EmulatedDriver.lastError()).contains("not the start of a live allocation");
        }
    }

    @Test
    void copiesPastAnAllocationAreRefused() {
        try (DeviceBuffer b = ctx.allocate(256, "b"); Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(512);
            assertThat(CuDriver.cuMemcpyHtoD_v2(b.address() + 128, host, 256)).isEqualTo(1);
            assertThat(CuDriver.cuMemcpyDtoH_v2(host, b.address(), 257)).isEqualTo(1);
            assertThat(CuDriver.cuMemcpyDtoH_v2(host, b.address() + 56, 200)).as("the allocation's last byte").isZero();
        }
    }

    @Test
    void modulesMustBePtxText() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment module = arena.allocate(ValueLayout.ADDRESS);
            byte[] elf = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0};
            assertThat(CuDriver.cuModuleLoadData(module, arena.allocateFrom(ValueLayout.JAVA_BYTE, elf)))
                    .as("a cubin").isEqualTo(200); // CUDA_ERROR_INVALID_IMAGE
            assertThat(CuDriver.cuModuleLoadData(module, arena.allocateFrom("// no directives\n")))
                    .as("text without .version").isEqualTo(218); // CUDA_ERROR_INVALID_PTX
        }
    }
}
