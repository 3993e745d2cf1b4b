package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Q8_0's integer decode kernel against its scalar twin and against the float kernel on rounded activations. */
class QuantizedActivationsTest {
    private final Q8_0Format q8 = new Q8_0Format();

    private static float[] gaussian(int n, long seed, double sigma) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * sigma);
        }
        return x;
    }

    @Test
    void levelsTimesScalesEqualTheRoundedActivations() {
        float[] x = gaussian(4096, 7, 3);
        x[5] = 0f;
        java.util.Arrays.fill(x, 64, 96, 0f); // an all-zero block: scale 0, levels 0
        float[] rounded = new float[x.length];
        q8.roundActivations(x, 0, rounded, 0, x.length);
        QuantizedActivations qx = new QuantizedActivations();
        q8.quantizeActivations(x, 0, x.length, qx);
        assertThat(qx.count()).isEqualTo(x.length);
        for (int i = 0; i < x.length; i++) {
            short level = qx.levels()[QuantizedActivations.evenOddIndex(i)];
            assertThat(level).as("level %d", i).isBetween((short) -127, (short) 127);
            assertThat(qx.scales()[i / 32] * level).as("element %d", i).isEqualTo(rounded[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 64, 96, 2048, 4096 + 32, 11008})
    void integerKernelEqualsScalarTwinAndFloatKernel(int n) {
        float[] w = gaussian(n, n, 1);
        float[] x = gaussian(n, n + 1, 5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(GgmlType.Q8_0.byteSize(n) + 5);
            // An odd offset: rows of a GGUF file are not aligned.
            q8.quantize(w, 0, data, 5, n);
            QuantizedActivations qx = new QuantizedActivations();
            q8.quantizeActivations(x, 0, n, qx);
            float[] rounded = new float[n];
            q8.roundActivations(x, 0, rounded, 0, n);
            double magnitude = 0;
            float[] decoded = new float[n];
            q8.dequantizeScalar(data, 5, decoded, 0, n);
            for (int i = 0; i < n; i++) {
                magnitude += Math.abs(decoded[i] * rounded[i]);
            }
            float vector = q8.dotQuantized(data, 5, qx, 0, n);
            float scalar = q8.dotQuantizedScalar(data, 5, qx, 0, n);
            float viaFloats = q8.dot(data, 5, rounded, 0, n);
            // Only the float summation order differs: the error bound scales with Σ|w·x|.
            double tolerance = 1e-6 * magnitude + 1e-6;
            assertThat((double) vector).isCloseTo(scalar, within(tolerance));
            assertThat((double) vector).isCloseTo(viaFloats, within(tolerance));
        }
    }

    @Test
    void offsetsIntoTheActivationsSelectWholeBlocks() {
        int n = 256;
        float[] w = gaussian(n, 3, 1);
        float[] x = gaussian(2 * n, 4, 1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(GgmlType.Q8_0.byteSize(n));
            q8.quantize(w, 0, data, 0, n);
            QuantizedActivations qx = new QuantizedActivations();
            q8.quantizeActivations(x, 0, 2 * n, qx);
            QuantizedActivations second = new QuantizedActivations();
            q8.quantizeActivations(x, n, n, second);
            assertThat(q8.dotQuantized(data, 0, qx, n, n)).isEqualTo(q8.dotQuantized(data, 0, second, 0, n));
            assertThatThrownBy(() -> q8.dotQuantized(data, 0, qx, 16, n))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole Q8_0 blocks");
            assertThatThrownBy(() -> q8.dotQuantized(data, 0, qx, n + 32, n))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void partialBlocksAreRefused() {
        assertThatThrownBy(() -> new QuantizedActivations().quantizeQ8_0(new float[40], 0, 40))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32");
    }

    @Test
    void twoActivationRowsGiveWhatOneRowAtATimeGives() {
        int n = 2048;
        float[] w = gaussian(n, 11, 1);
        float[] x = gaussian(3 * n, 12, 2);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(GgmlType.Q8_0.byteSize(n) + 1);
            q8.quantize(w, 0, data, 1, n);
            QuantizedActivations qx = new QuantizedActivations();
            q8.quantizeActivations(x, 0, 3 * n, qx);
            float[] out = new float[4];
            q8.dotQuantized2(data, 1, qx, 2 * n, 0, n, out, 3, 0);
            assertThat(out[3]).isEqualTo(q8.dotQuantized(data, 1, qx, 2 * n, n));
            assertThat(out[0]).isEqualTo(q8.dotQuantized(data, 1, qx, 0, n));
            assertThatThrownBy(() -> q8.dotQuantized2(data, 1, qx, 0, 16, n, out, 0, 1))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void pairedQ8_1FillKeepsQ8_0LevelsAndAddsTheBlockSumsAndPairVectorSums() {
        float[] x = gaussian(256, 13, 2);
        QuantizedActivations q8_0 = new QuantizedActivations();
        q8_0.quantizeQ8_0(x, 0, x.length);
        QuantizedActivations evenOdd = new QuantizedActivations();
        evenOdd.quantizeQ8_1EvenOdd(x, 0, x.length);
        QuantizedActivations paired = new QuantizedActivations();
        paired.quantizeQ8_1Paired(x, 0, x.length);
        paired.broadcastPairs(x.length / 2);
        paired.sumPairVectors(x.length / 2);
        int blocks = x.length / 32;
        for (int b = 0; b < blocks; b++) {
            assertThat(paired.scales()[b]).as("scale %d", b).isEqualTo(q8_0.scales()[b]);
            assertThat(paired.scales()[blocks + b]).as("Q8_1 sum %d", b).isEqualTo(evenOdd.scales()[blocks + b]);
            int even = 0;
            int odd = 0;
            for (int j = 0; j < 32; j += 2) {
                short lo = q8_0.levels()[32 * b + j];
                short hi = q8_0.levels()[32 * b + j + 1];
                assertThat(paired.pairs()[(32 * b + j) / 2]).isEqualTo((lo & 0xFFFF) | hi << 16);
                even += lo;
                odd += hi;
            }
            assertThat(paired.sums()[b]).as("level sum %d", b).isEqualTo(even + odd);
            for (int lane = 0; lane < 16; lane++) {
                assertThat(paired.pairVectorSums()[16 * b + lane]).as("block %d lane %d", b, lane)
                        .isEqualTo((short) (lane % 2 == 0 ? even : odd));
            }
        }
    }
}
