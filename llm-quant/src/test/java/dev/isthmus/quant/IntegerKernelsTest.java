package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.QuantizedActivations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The integer decode kernels ({@code dotQuantized}) of the formats that have one: against their scalar
 * integer twin, and against the float kernel on the rounded activations (the same values: only the float
 * summation order differs).
 */
class IntegerKernelsTest {

    private static float[] gaussian(int n, long seed, double sigma) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * sigma * (1 + (i / 32) % 5));
        }
        return x;
    }

    private static BlockFormat integerFormat(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        Assumptions.assumeTrue(f.quantizesActivations(), type + " has no integer kernel on this machine's vector shape");
        return f;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void integerKernelEqualsItsTwinAndTheFloatKernel(GgmlType type) {
        BlockFormat f = integerFormat(type);
        for (int n : new int[] {256, 512, 2048, 4096 + 256}) {
            float[] rows = BlockFormatsTest.testRows(n, 3, n);
            float[] x = gaussian(n, n + 1, 2);
            QuantizedActivations qx = new QuantizedActivations();
            f.quantizeActivations(x, 0, n, qx);
            float[] rounded = new float[n];
            f.roundActivations(x, 0, rounded, 0, n);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocate(type.byteSize(n) + 3);
                float[] decoded = new float[n];
                for (int r = 0; r < rows.length / n; r++) {
                    // An odd offset: GGUF rows are not aligned.
                    f.quantize(rows, r * n, data, 3, n);
                    ((ScalarTwin) f).dequantizeScalar(data, 3, decoded, 0, n);
                    double magnitude = magnitude(type, decoded, rounded);
                    float vector = f.dotQuantized(data, 3, qx, 0, n);
                    float twin = ((IntegerTwin) f).dotQuantizedScalar(data, 3, qx, 0, n);
                    float floats = f.dot(data, 3, rounded, 0, n);
                    // Same integers, float sums in another order: a few ulps of Σ|w·x|. The float kernel splits
                    // k-quants' minimums off as separate sums, whose cancellation allows more; Q4_1/Q5_1 take
                    // the activation block sums from Q8_1's F16 field, as llama.cpp does (2^-11 relative).
                    assertThat((double) vector).as("%s n=%d row %d vs twin", type, n, r)
                            .isCloseTo(twin, within(2e-6 * magnitude));
                    boolean f16BlockSums = type == GgmlType.Q4_1 || type == GgmlType.Q5_1;
                    assertThat((double) vector).as("%s n=%d row %d vs float kernel", type, n, r)
                            .isCloseTo(floats, within((f16BlockSums ? 1e-3 : 2e-5) * magnitude));
                }
            }
        }
    }

    /**
     * Σ|w·x|, the scale of a float sum's rounding errors. Formats with minimums (Q2_K, Q4_K, Q5_K: w = d·sc·q −
     * min) sum the scaled levels and the minimums apart, and either part can exceed Σ|w·x|: each element then
     * counts its 16-element group's largest |w| twice more, a bound on its minimum (levels reach 0).
     */
    private static double magnitude(GgmlType type, float[] w, float[] x) {
        boolean minimums = type == GgmlType.Q2_K || type == GgmlType.Q4_K || type == GgmlType.Q5_K;
        double magnitude = 1e-30;
        for (int g = 0; g < w.length; g += 16) {
            double largest = 0;
            for (int i = g; i < g + 16; i++) {
                largest = Math.max(largest, Math.abs(w[i]));
            }
            for (int i = g; i < g + 16; i++) {
                magnitude += (Math.abs((double) w[i]) + (minimums ? 2 * largest : 0)) * Math.abs(x[i]);
            }
        }
        return magnitude;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void offsetsSelectWholeBlocksOfTheActivations(GgmlType type) {
        BlockFormat f = integerFormat(type);
        int n = 512;
        float[] w = gaussian(n, 5, 1);
        float[] x = gaussian(2 * n, 6, 1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(type.byteSize(n));
            f.quantize(w, 0, data, 0, n);
            QuantizedActivations both = new QuantizedActivations();
            f.quantizeActivations(x, 0, 2 * n, both);
            QuantizedActivations second = new QuantizedActivations();
            f.quantizeActivations(x, n, n, second);
            assertThat(f.dotQuantized(data, 0, both, n, n)).isEqualTo(f.dotQuantized(data, 0, second, 0, n));
            assertThatThrownBy(() -> f.dotQuantized(data, 0, both, 16, n)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> f.dotQuantized(data, 0, both, 2 * n, n)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
