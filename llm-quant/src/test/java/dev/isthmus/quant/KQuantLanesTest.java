package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every lane of {@link KQuantLanes} against the scalar search it reproduces, bit for bit. */
class KQuantLanesTest {
    private static final int TRIALS = 1000;

    @ParameterizedTest(name = "n {0}, nmax {1}, rmin {2}, steps {4}, mad {5}")
    @CsvSource({
            "32, 15, -1.0, 0.1, 20, false",   // Q4_K
            "32, 31, -0.5, 0.1, 15, false",   // Q5_K
            "16, 3, -0.5, 0.1, 15, true",     // Q2_K
            "32, 15, -1.0, 0.1, 0, false"})   // no refinement steps
    void makeQkx2QuantsMatchesTheScalarSearchInEveryLane(int n, int nmax, float rmin, float rdelta, int nstep,
                                                         boolean useMad) {
        KQuantLanes lanes = new KQuantLanes(n);
        Random random = new Random(n * 31L + nmax);
        for (int trial = 0; trial < TRIALS; trial++) {
            float[] x = subBlocks(random, n, trial);
            float[] weights = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                weights[i] = trial % 3 == 0 ? Math.abs(x[i]) : 0.5f + Math.abs(x[i]) * random.nextFloat();
            }
            int from = 3;
            float[] src = shifted(x, from);
            byte[] levels = new byte[8 * n + 5];
            float[] scales = new float[10];
            float[] mins = new float[10];
            lanes.makeQkx2Quants(nmax, src, from, weights, 0, levels, 5, scales, mins, 2, rmin, rdelta, nstep, useMad);
            byte[] aux = new byte[n];
            for (int j = 0; j < 8; j++) {
                byte[] expectedLevels = new byte[n];
                float[] expectedMin = new float[1];
                float[] w = Arrays.copyOfRange(weights, n * j, n * j + n);
                float expectedScale = KQuantMath.makeQkx2Quants(n, nmax, x, n * j, w, expectedLevels, 0, expectedMin, 0,
                        aux, rmin, rdelta, nstep, useMad);
                String where = "trial " + trial + ", lane " + j;
                assertThat(Float.floatToRawIntBits(mins[2 + j])).as(where + " min")
                        .isEqualTo(Float.floatToRawIntBits(expectedMin[0]));
                assertLane(where, scales[2 + j], expectedScale, levels, 5 + n * j, expectedLevels);
            }
        }
    }

    @ParameterizedTest(name = "n {0}, nmax {1}")
    @CsvSource({"16, 32", "32, 4"})
    void makeQxQuantsMatchesTheScalarSearchInEveryLane(int n, int nmax) {
        KQuantLanes lanes = new KQuantLanes(n);
        Random random = new Random(n * 17L + nmax);
        for (int trial = 0; trial < TRIALS; trial++) {
            float[] x = subBlocks(random, n, trial);
            int from = 1;
            float[] src = shifted(x, from);
            byte[] levels = new byte[8 * n + 3];
            float[] scales = new float[9];
            lanes.makeQxQuants(nmax, src, from, levels, 3, scales, 1);
            for (int j = 0; j < 8; j++) {
                byte[] expectedLevels = new byte[n];
                float expectedScale = KQuantMath.makeQxQuants(n, nmax, x, n * j, expectedLevels, 0, 1, null, 0);
                String where = "trial " + trial + ", lane " + j;
                assertLane(where, scales[1 + j], expectedScale, levels, 3 + n * j, expectedLevels);
            }
        }
    }

    @ParameterizedTest(name = "n {0}, nmax {1}")
    @CsvSource({"16, 4", "32, 4", "16, 8"})
    void makeQ3QuantsMatchesTheScalarSearchInEveryLane(int n, int nmax) {
        KQuantLanes lanes = new KQuantLanes(n);
        Random random = new Random(n * 13L + nmax);
        for (int trial = 0; trial < TRIALS; trial++) {
            float[] x = subBlocks(random, n, trial);
            int from = 4;
            float[] src = shifted(x, from);
            byte[] levels = new byte[8 * n + 1];
            float[] scales = new float[8];
            lanes.makeQ3Quants(nmax, src, from, levels, 1, scales, 0);
            for (int j = 0; j < 8; j++) {
                byte[] expectedLevels = new byte[n];
                float expectedScale = KQuantMath.makeQ3Quants(n, nmax, x, n * j, expectedLevels, 0, true);
                String where = "trial " + trial + ", lane " + j;
                assertLane(where, scales[j], expectedScale, levels, 1 + n * j, expectedLevels);
            }
        }
    }

    @ParameterizedTest(name = "ntry {0}")
    @CsvSource({"7", "1"})
    void iq4ScalesMatchTheScalarSearchInEveryLane(int ntry) {
        KQuantLanes lanes = new KQuantLanes(32);
        Random random = new Random(ntry);
        for (int trial = 0; trial < TRIALS; trial++) {
            float[] x = subBlocks(random, 32, trial);
            if (trial % 5 == 4) {
                // Values exactly on the grid's points and midpoints (after the first fit's scaling) test the ties.
                for (int i = 0; i < x.length; i++) {
                    x[i] = (KQuantMath.IQ4NL_VALUES[i % 16] + (i % 3 == 0 ? 0.5f : 0f)) * 0.01f;
                }
            }
            int from = 2;
            float[] src = shifted(x, from);
            float[] scales = new float[11];
            lanes.iq4Scales(src, from, scales, 3, ntry);
            for (int j = 0; j < 8; j++) {
                float expected = Iq4Encoder.blockScale(x, 32 * j, ntry, new byte[32]);
                assertThat(Float.floatToRawIntBits(scales[3 + j])).as("trial %d, lane %d", trial, j)
                        .isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
    }

    @org.junit.jupiter.api.Test
    void iq4LevelsMatchTheScalarGridSearch() {
        KQuantLanes lanes = new KQuantLanes(32);
        Random random = new Random(5);
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 1e30f, -1e30f};
        for (int trial = 0; trial < TRIALS; trial++) {
            int count = 1 + random.nextInt(40);
            float[] src = new float[count + 3];
            for (int i = 0; i < src.length; i++) {
                int k = random.nextInt(16);
                src[i] = switch (random.nextInt(4)) {
                    case 0 -> KQuantMath.IQ4NL_VALUES[k];                                        // on a grid point
                    case 1 -> k < 15 ? (KQuantMath.IQ4NL_VALUES[k] + KQuantMath.IQ4NL_VALUES[k + 1]) / 2f : 200f; // a midpoint
                    case 2 -> special[random.nextInt(special.length)];
                    default -> (float) random.nextGaussian() * 90f;
                };
            }
            float scale = trial % 2 == 0 ? 1f : (float) random.nextGaussian();
            byte[] levels = new byte[count + 4];
            int from = 3;
            lanes.iq4Levels(src, from, scale, levels, 4, count);
            for (int j = 0; j < count; j++) {
                assertThat(levels[4 + j]).as("trial %d, element %d (%s)", trial, j, scale * src[from + j])
                        .isEqualTo((byte) KQuantMath.bestIndexInt8(KQuantMath.IQ4NL_VALUES, scale * src[from + j]));
            }
        }
    }

    @org.junit.jupiter.api.Test
    void offsetLevelsMatchTheScalarRounding() {
        KQuantLanes lanes = new KQuantLanes(32);
        Random random = new Random(11);
        for (int trial = 0; trial < TRIALS; trial++) {
            int count = 1 + random.nextInt(40);
            int nmax = trial % 2 == 0 ? 15 : 31;
            float d = (float) Math.abs(random.nextGaussian()) * 0.1f + 1e-3f;
            float dm = (float) random.nextGaussian() * 0.5f;
            float[] src = new float[count + 2];
            for (int i = 0; i < src.length; i++) {
                // Some values land exactly on half steps, where nearestInt's ties to even matter.
                src[i] = i % 4 == 0 ? (random.nextInt(2 * nmax) + 0.5f) * d - dm : (float) random.nextGaussian() * nmax * d;
            }
            byte[] levels = new byte[count + 3];
            lanes.offsetLevels(src, 2, dm, d, nmax, levels, 3, count);
            for (int i = 0; i < count; i++) {
                int expected = Math.max(0, Math.min(nmax, KQuantMath.nearestInt((src[2 + i] + dm) / d)));
                assertThat(levels[3 + i]).as("trial %d, element %d", trial, i).isEqualTo((byte) expected);
            }
        }
    }

    /**
     * Eight sub-blocks of n values, each drawn its own way so that every branch of the searches is taken in
     * some lanes and not in others: Gaussian, all positive, all negative, constant (flat), all zero, tiny
     * (below ggml's GROUP_MAX_EPS), signed zeros, and a few large outliers.
     */
    private static float[] subBlocks(Random random, int n, int trial) {
        float[] x = new float[8 * n];
        for (int j = 0; j < 8; j++) {
            int kind = (j + trial) % 9;
            float c = (float) random.nextGaussian();
            for (int i = 0; i < n; i++) {
                float g = (float) random.nextGaussian();
                x[n * j + i] = switch (kind) {
                    case 0, 1 -> g * (trial % 7 + 1) * 0.01f;
                    case 2 -> Math.abs(g) + 0.1f;
                    case 3 -> -Math.abs(g) - 0.1f;
                    case 4 -> c;
                    case 5 -> 0f;
                    case 6 -> g * 1e-17f;
                    case 7 -> i % 2 == 0 ? -0f : (i % 3 == 0 ? 0f : g);
                    default -> i == n / 3 ? 40 * g : g;
                };
            }
        }
        return x;
    }

    private static float[] shifted(float[] x, int from) {
        float[] src = new float[from + x.length + 2];
        System.arraycopy(x, 0, src, from, x.length);
        return src;
    }

    /** Lane {@code where}'s scale bit for bit and its n levels at {@code at}, as the scalar search gave them. */
    private static void assertLane(String where, float scale, float expectedScale, byte[] levels, int at,
                                   byte[] expectedLevels) {
        assertThat(Float.floatToRawIntBits(scale)).as(where + " scale").isEqualTo(Float.floatToRawIntBits(expectedScale));
        assertThat(Arrays.copyOfRange(levels, at, at + expectedLevels.length)).as(where + " levels").isEqualTo(expectedLevels);
    }
}
