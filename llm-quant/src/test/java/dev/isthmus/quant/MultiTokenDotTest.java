package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.RowGroupLayout;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every row-group layout's multi-token kernel ({@link RowGroupLayout#dotTokens}) against its single-token kernel,
 * which the layouts' own tests hold to llama.cpp's arithmetic: a short prompt must get, bit for bit, what its
 * tokens would get one at a time, for every number of tokens per call and wherever the tokens start.
 */
class MultiTokenDotTest {
    private static final int ROWS = 16;
    private static final int COLS = 768;
    private static final int TOKENS = 11;

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K",
            "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void everyTokenGetsWhatTheSingleTokenKernelGivesIt(GgmlType type) {
        Assumptions.assumeTrue(IntLanes.AVAILABLE, "row groups need 256-bit vectors");
        BlockFormat format = BlockFormats.require(type);
        RowGroupLayout layout = format.rowGroups().orElseThrow();
        SplittableRandom random = new SplittableRandom(type.ordinal());
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate("w", type, arena, ROWS, COLS);
            float[] row = new float[COLS];
            for (int r = 0; r < ROWS; r++) {
                for (int i = 0; i < COLS; i++) {
                    // Blocks of very different magnitudes, so that scales differ from block to block.
                    row[i] = (float) (random.nextGaussian() * Math.pow(10, -2 + (i / 32 + r) % 4));
                }
                format.quantize(row, 0, w.segment(), w.rowOffset(r), COLS);
            }
            MemorySegment packed = RowGroupChecks.pack(layout, arena, w);
            float[] x = new float[TOKENS * COLS];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (random.nextGaussian() * (1 + (i / 32) % 7));
            }
            QuantizedActivations activations = new QuantizedActivations();
            layout.quantizeActivations(x, 0, x.length, activations);
            long groupBytes = layout.groupBytes(COLS);
            float[] single = new float[TOKENS * ROWS];
            for (int g = 0; g < ROWS / layout.rows(); g++) {
                for (int t = 0; t < TOKENS; t++) {
                    layout.dot(packed, g * groupBytes, activations, t * COLS, COLS, single, t * ROWS + g * layout.rows());
                }
            }
            assertThat(layout.tokensPerCall()).isBetween(1, TOKENS);
            for (int first = 0; first < 3; first++) {
                for (int tokens = 1; first + tokens <= TOKENS; tokens++) {
                    float[] multi = new float[TOKENS * ROWS];
                    Arrays.fill(multi, Float.NaN);
                    for (int g = 0; g < ROWS / layout.rows(); g++) {
                        layout.dotTokens(packed, g * groupBytes, activations, first * COLS, COLS, tokens, multi,
                                first * ROWS + g * layout.rows(), ROWS);
                    }
                    for (int t = first; t < first + tokens; t++) {
                        for (int r = 0; r < ROWS; r++) {
                            assertThat(multi[t * ROWS + r]).as("%s, %d tokens from %d: token %d row %d", type, tokens,
                                    first, t, r).isEqualTo(single[t * ROWS + r]);
                        }
                    }
                    for (int t = 0; t < TOKENS; t++) {
                        if (t < first || t >= first + tokens) {
                            assertThat(multi[t * ROWS]).as("token %d is not written", t).isNaN();
                        }
                    }
                }
            }
        }
    }
}
