package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
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

    /**
     * Q6_K, which llama.cpp does not repack on x86, keeps llama.cpp's single-row arithmetic in its row groups too:
     * every row of a packed group gives {@code ggml_vec_dot_q6_K_q8_K}'s float.
     */
    @org.junit.jupiter.api.Test
    void q6_KRowGroupsGiveLlamaCppsSingleRowResults() {
        GgmlCpuKernels ggml = GgmlCpuKernels.require();
        RowGroupLayout layout = BlockFormats.require(GgmlType.Q6_K).rowGroups().orElseThrow();
        int cols = 2048;
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = KQuantRowGroupsTest.quantized(GgmlType.Q6_K, arena, 16, cols, 5);
            MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
            float[] x = KQuantRowGroupsTest.activations(cols, 6, -1);
            QuantizedActivations qx = new QuantizedActivations();
            layout.quantizeActivations(x, 0, cols, qx);
            float[] out = new float[16];
            for (int g = 0; g < 2; g++) {
                layout.dot(packed, g * layout.groupBytes(cols), qx, 0, cols, out, 8 * g);
            }
            long rowBytes = GgmlType.Q6_K.byteSize(cols);
            for (int r = 0; r < 16; r++) {
                assertThat(out[r]).as("row %d", r).isEqualTo(ggml.dot(GgmlType.Q6_K, w.segment().asSlice(w.rowOffset(r), rowBytes), x));
            }
        }
    }
}
