package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The device's activation rounding, run by the emulated driver, must give bit for bit what every registered
 * format's own {@link BlockFormat#roundActivations} gives — which checks the {@link DeviceRounding} table and
 * the round_* kernels together.
 */
class DeviceRoundingTest {
    private static final int N = 1024;

    @BeforeAll
    static void emulate() {
        EmulatedDriver.load();
    }

    /**
     * Values of every scale, signs, an all-zero 256-block, a block whose largest magnitude is negative, and
     * blocks where two elements of opposite sign share the largest magnitude: the first one sets Q8_K's sign,
     * also where a later lane of the device's warp holds it (520 is lane 8, 551 lane 7).
     */
    static float[] activations() {
        Random r = new Random(7);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 4));
        }
        java.util.Arrays.fill(x, 256, 512, 0f);
        x[600] = -1e4f;
        x[520] = 2e4f;
        x[551] = -2e4f;
        x[780] = -5e4f;
        x[800] = 5e4f;
        x[700] = 65519.9f; // rounds to the largest half
        x[701] = 1e-7f;    // a half subnormal
        x[702] = 3e-8f;    // rounds to the smallest half subnormal
        return x;
    }

    @Test
    void everyRoundingFormatIsReproducedBitForBit() {
        List<GgmlType> checked = new ArrayList<>();
        try (CudaBackend cuda = (CudaBackend) Backends.create("cuda", 1); Arena arena = Arena.ofConfined()) {
            CudaContext ctx = cuda.context();
            float[] x = activations();
            DeviceBuffer src = ctx.allocate(4L * N, "src");
            DeviceBuffer dst = ctx.allocate(4L * N, "dst");
            MemorySegment host = arena.allocate(4L * N, 64);
            MemorySegment.copy(x, 0, host, ValueLayout.JAVA_FLOAT, 0, N);
            ctx.upload(host, src, 0, 4L * N);
            for (GgmlType type : GgmlType.values()) {
                BlockFormat format = BlockFormats.find(type).orElse(null);
                if (format == null || !format.roundsActivations()) {
                    continue;
                }
                DeviceRounding rounding = DeviceRounding.of(type).orElseThrow(
                        () -> new AssertionError(type + " rounds activations but has no device rounding"));
                float[] expected = new float[N];
                format.roundActivations(x, 0, expected, 0, N);
                LaunchPlanner.Launch l = LaunchPlanner.rounding(rounding, N);
                ctx.launch(l.kernel(), l.config(), new KernelArgs().pointer(dst).pointer(src).i32(N).pointer(0L));
                ctx.download(dst, host, 4L * N);
                float[] actual = new float[N];
                MemorySegment.copy(host, ValueLayout.JAVA_FLOAT, 0, actual, 0, N);
                for (int i = 0; i < N; i++) {
                    assertThat(Float.floatToRawIntBits(actual[i])).as("%s (%s) element %d of %s", type, rounding, i, x[i])
                            .isEqualTo(Float.floatToRawIntBits(expected[i]));
                }
                checked.add(type);
            }
        }
        assertThat(checked).contains(GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K,
                GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS);
    }

    @Test
    void formatsThatDoNotRoundAreUsedAsTheyAre() {
        assertThat(DeviceRounding.of(GgmlType.F32)).contains(DeviceRounding.NONE);
        assertThat(DeviceRounding.of(GgmlType.I32)).as("not a weight format").isEmpty();
    }
}
