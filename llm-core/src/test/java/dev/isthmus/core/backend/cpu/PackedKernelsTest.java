package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The packed-panel tiles against their scalar twins, for every tile shape the dispatchers pick. */
class PackedKernelsTest {

    @ParameterizedTest(name = "cols={0}")
    @CsvSource({"1", "7", "40", "384"})
    void floatTilesEqualTheScalarTwin(int cols) {
        SplittableRandom r = new SplittableRandom(cols);
        float[] w = gaussian(r, 2 * 16 * cols);
        float[] bias = gaussian(r, 32);
        for (int rows = 1; rows <= 15; rows++) {
            float[] x = gaussian(r, rows * cols);
            float[] out = new float[rows * 40];
            float[] expected = new float[rows * 40];
            // The second panel, an output stride wider than 16 and a bias offset: as a layer's later panels see them.
            PackedKernels.tiles(w, 16 * cols, cols, x, 0, rows, bias, 16, out, 3, 40);
            PackedKernels.tilesScalar(w, 16 * cols, cols, x, 0, rows, bias, 16, expected, 3, 40);
            assertClose(out, expected, cols, "float tiles, " + rows + " rows");
        }
    }

    @ParameterizedTest(name = "cols={0}")
    @CsvSource({"1", "7", "40", "384"})
    void halfTilesEqualTheScalarTwin(int cols) {
        SplittableRandom r = new SplittableRandom(cols);
        int[] pairs = new int[2 * 8 * cols];
        for (int i = 0; i < pairs.length; i++) {
            pairs[i] = half(r) | half(r) << 16;
        }
        float[] bias = gaussian(r, 32);
        for (int rows = 1; rows <= 15; rows++) {
            float[] x = gaussian(r, rows * cols);
            float[] out = new float[rows * 40];
            float[] expected = new float[rows * 40];
            PackedKernels.halfTiles(pairs, 8 * cols, cols, x, 0, rows, bias, 16, out, 3, 40);
            PackedKernels.halfTilesScalar(pairs, 8 * cols, cols, x, 0, rows, bias, 16, expected, 3, 40);
            assertClose(out, expected, cols, "half tiles, " + rows + " rows");
        }
    }

    @Test
    void everyFiniteHalfWidensExactly() {
        int cols = 8192 / 16;
        int[] pairs = new int[8 * cols];
        float[] expected = new float[16 * cols];
        int n = 0;
        for (int bits = 0; bits < 0x10000; bits++) {
            if ((bits & 0x7C00) == 0x7C00) {
                continue;
            }
            int at = n % (16 * cols);
            int k = at / 16;
            int j = at % 16;
            pairs[k * 8 + j % 8] |= (bits & 0xFFFF) << (j < 8 ? 0 : 16);
            expected[at] = Float.float16ToFloat((short) bits);
            if (++n % (16 * cols) == 0 || bits == 0xFFFF) {
                float[] out = new float[16 * cols];
                PackedKernels.halvesToFloats(pairs, 0, cols, out);
                for (int i = 0; i < out.length; i++) {
                    assertThat(Float.floatToRawIntBits(out[i])).as("element %d of block ending at half %04x", i, bits)
                            .isEqualTo(Float.floatToRawIntBits(expected[i]));
                }
                java.util.Arrays.fill(pairs, 0);
                java.util.Arrays.fill(expected, 0f);
            }
        }
    }

    /**
     * A random half: mostly weight-like values, some subnormals and zeros of both signs (every finite half's
     * widening is checked exactly in {@link #everyFiniteHalfWidensExactly}).
     */
    private static int half(SplittableRandom r) {
        float v = switch (r.nextInt(20)) {
            case 0 -> (float) (r.nextGaussian() * 1e-6);
            case 1 -> r.nextBoolean() ? 0f : -0f;
            case 2 -> (float) (r.nextGaussian() * 3);
            default -> (float) (r.nextGaussian() * 0.1);
        };
        return Float.floatToFloat16(v) & 0xFFFF;
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    private static void assertClose(float[] out, float[] expected, int cols, String what) {
        for (int i = 0; i < out.length; i++) {
            double tolerance = 1e-5 * Math.sqrt(cols) * Math.max(1, Math.abs(expected[i]));
            assertThat((double) out[i]).as("%s, element %d", what, i).isCloseTo(expected[i], within(tolerance));
        }
    }
}
