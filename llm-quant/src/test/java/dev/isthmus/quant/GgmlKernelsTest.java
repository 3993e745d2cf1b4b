package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.quant.testing.GgmlCpuKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The integer decode kernels (single rows) against llama.cpp's own ({@code ggml_vec_dot_*}, AVX2 build) on the same
 * weights and activations: the results must be the same floats, bit for bit.
 */
class GgmlKernelsTest {

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void integerKernelIsLlamaCppsBitForBit(GgmlType type) {
        GgmlCpuKernels ggml = GgmlCpuKernels.require();
        BlockFormat f = BlockFormats.require(type);
        Assumptions.assumeTrue(f.quantizesActivations(), type + " has no integer kernel on this machine's vector shape");
        SplittableRandom random = new SplittableRandom(type.ordinal());
        int mismatches = 0;
        int compared = 0;
        for (int n : new int[] {256, 512, 2048, 4096 + 256}) {
            for (int trial = 0; trial < 8; trial++) {
                float[] w = new float[n];
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    w[i] = (float) (random.nextGaussian() * Math.pow(10, -2 + (i / 256 + trial) % 3));
                    x[i] = (float) (random.nextGaussian() * (1 + (i / 32) % 5) * (i % 89 == 0 ? 30 : 1));
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment data = arena.allocate(type.byteSize(n), 64);
                    f.quantize(w, 0, data, 0, n);
                    QuantizedActivations qx = new QuantizedActivations();
                    f.quantizeActivations(x, 0, n, qx);
                    float ours = f.dotQuantized(data, 0, qx, 0, n);
                    float theirs = ggml.dot(type, data, x);
                    compared++;
                    if (Float.floatToRawIntBits(ours) != Float.floatToRawIntBits(theirs)) {
                        mismatches++;
                        System.out.printf("%s n=%d trial %d: ours %s, llama.cpp %s%n", type, n, trial, ours, theirs);
                    }
                }
            }
        }
        assertThat(mismatches).as("%s: products of %d that differ from llama.cpp's", type, compared).isZero();
    }
}
