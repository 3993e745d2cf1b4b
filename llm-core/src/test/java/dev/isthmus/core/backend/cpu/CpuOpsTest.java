package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class CpuOpsTest {

    @Test
    void vectorGeluMatchesTheScalarTwinAcrossTheRange() {
        int n = 20_001;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -10f + i * 0.001f;
        }
        float[] v = x.clone();
        CpuOps.geluErf(v, 0, n);
        for (int i = 0; i < n; i++) {
            double expected = 0.5 * x[i] * (1 + CpuOps.erf(x[i] / Math.sqrt(2)));
            assertThat((double) v[i]).as("gelu(%f)", x[i]).isCloseTo(expected, within(2e-6 * Math.max(1, Math.abs(x[i]))));
        }
    }

    @Test
    void dot4x2EqualsSeparateDots() {
        int n = 77;
        float[] w = new float[4 * n];
        float[] x = new float[2 * n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.sin(i);
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.cos(i * 0.3);
        }
        float[] out = new float[2 * 4];
        CpuOps.dot4x2(w, 0, n, x, 0, n, out, 0, 4, 1);
        for (int t = 0; t < 2; t++) {
            for (int r = 0; r < 4; r++) {
                double expected = 0;
                for (int i = 0; i < n; i++) {
                    expected += (double) w[r * n + i] * x[t * n + i];
                }
                assertThat((double) out[t * 4 + r]).as("row %d token %d", r, t).isCloseTo(expected, within(1e-4));
            }
        }
    }

    @Test
    void halfAccumulationEqualsTheScalarFormBitForBit() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        float[] special = {0f, -0f, 1e-6f, -3e-5f, 6.1e-5f, 65504f, 65519f, 65520f, 70000f, Float.NaN,
                Float.POSITIVE_INFINITY, 0.000061035156f, 1.00048828125f, 1.0014648f};
        for (int trial = 0; trial < 2000; trial++) {
            int n = 1 + r.nextInt(70);
            float[] y = new float[n];
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                y[i] = trial % 7 == 0 ? special[r.nextInt(special.length)] : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 5));
                x[i] = trial % 5 == 0 ? special[r.nextInt(special.length)] : (float) r.nextGaussian();
            }
            float scale = trial % 3 == 0 ? 1f : (float) r.nextDouble();
            float a = (float) r.nextDouble() * 2;
            float[] expected = y.clone();
            for (int i = 0; i < n; i++) {
                float v = expected[i];
                if (scale != 1f) {
                    v = Float.float16ToFloat(Float.floatToFloat16(v * scale));
                }
                expected[i] = Float.float16ToFloat(Float.floatToFloat16(v + x[i] * a));
            }
            CpuOps.halfAccumulate(y, 0, scale, a, x, 0, n);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToIntBits(y[i])).as("trial %d lane %d", trial, i)
                        .isEqualTo(Float.floatToIntBits(expected[i]));
            }
        }
    }

    @Test
    void halfRoundingOfFloatsAcrossEveryBinadeEqualsTheScalarConversionBitForBit() {
        // Float bit patterns 61 apart over the whole range (70 million values: every binade, both signs,
        // subnormals, the overflow boundary, infinities and NaNs), plus each binade's ties and their neighbours.
        int chunk = 1 << 16;
        float[] y = new float[chunk];
        float[] zeros = new float[chunk];
        float[] expected = new float[chunk];
        long next = Integer.MIN_VALUE;
        while (next <= Integer.MAX_VALUE) {
            int n = 0;
            for (; n < chunk && next <= Integer.MAX_VALUE; n++, next += 61) {
                y[n] = Float.intBitsToFloat((int) next);
            }
            checkHalfRounding(y, zeros, expected, n);
        }
        int n = 0;
        for (int e = -25; e <= 16; e++) {
            for (int m = 0; m < 2048; m += 7) {
                float tie = (float) ((2 * m + 1) * Math.pow(2, e - 11)); // halfway between two halves of binade e
                for (int d = -1; d <= 1; d++) {
                    float v = Float.intBitsToFloat(Float.floatToRawIntBits(tie) + d);
                    y[n++] = v;
                    y[n++] = -v;
                    if (n >= chunk - 2) {
                        checkHalfRounding(y, zeros, expected, n);
                        n = 0;
                    }
                }
            }
        }
        checkHalfRounding(y, zeros, expected, n);
    }

    private static void checkHalfRounding(float[] y, float[] zeros, float[] expected, int n) {
        for (int i = 0; i < n; i++) {
            expected[i] = Float.float16ToFloat(Float.floatToFloat16(y[i] + zeros[i] * 0f));
        }
        // The same rounding through the many-row kernel (its own copy of the arithmetic): one row of zeros.
        float[] rows = y.clone();
        CpuOps.halfAccumulateRows(rows, 0, n, new float[] {1f, 0f}, 0, 1, 1, zeros, 0, n);
        CpuOps.halfAccumulate(y, 0, 1f, 0f, zeros, 0, n);
        for (int i = 0; i < n; i++) {
            if (Float.floatToIntBits(y[i]) != Float.floatToIntBits(expected[i])) {
                assertThat(Float.toHexString(y[i])).as("lane %d", i).isEqualTo(Float.toHexString(expected[i]));
            }
            if (Float.floatToIntBits(rows[i]) != Float.floatToIntBits(expected[i])) {
                assertThat(Float.toHexString(rows[i])).as("rows kernel, lane %d", i).isEqualTo(Float.toHexString(expected[i]));
            }
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {8, 64, 96, 128, 200})
    void halfAccumulationOverManyRowsEqualsTheScalarStepsBitForBit(int width) {
        // Rows of a value cache (stride past the width, offsets not zero), mostly ms = 1, sometimes a rescaling
        // (the running maximum grew, 0 for the first row), and rows large enough to reach the half infinity or NaN.
        java.util.SplittableRandom r = new java.util.SplittableRandom(width);
        int n = 300;
        int stride = width + 24;
        int vOff = 5;
        int yOff = 3;
        float[] values = new float[vOff + n * stride];
        for (int i = 0; i < values.length; i++) {
            values[i] = Float.float16ToFloat(Float.floatToFloat16((float) (r.nextGaussian() * Math.pow(10, r.nextInt(5) - 2))));
        }
        for (int j = 0; j < width; j++) {
            values[vOff + 200 * stride + j] = j % 3 == 0 ? 70000f : values[vOff + 200 * stride + j];
            values[vOff + 250 * stride + j] = j % 5 == 0 ? Float.NaN : values[vOff + 250 * stride + j];
        }
        float[] factors = new float[2 * n];
        for (int p = 0; p < n; p++) {
            factors[p] = p == 0 ? 0f : p % 37 == 0 ? (float) r.nextDouble() : 1f;
            factors[n + p] = p % 37 == 0 ? 1f : (float) r.nextDouble();
        }
        float[] y = new float[yOff + width + 4];
        for (int j = 0; j < y.length; j++) {
            y[j] = (float) r.nextGaussian();
        }
        float[] expected = y.clone();
        for (int p = 0; p < n; p++) {
            for (int j = 0; j < width; j++) {
                float v = expected[yOff + j];
                if (factors[p] != 1f) {
                    v = Float.float16ToFloat(Float.floatToFloat16(v * factors[p]));
                }
                expected[yOff + j] = Float.float16ToFloat(Float.floatToFloat16(v + values[vOff + p * stride + j] * factors[n + p]));
            }
        }
        // Repeated until C2 has compiled the kernel: the compiled code is checked too, not only the interpreter's.
        for (int round = 0; round < 300; round++) {
            float[] got = y.clone();
            CpuOps.halfAccumulateRows(got, yOff, width, factors, 0, n, n, values, vOff, stride);
            for (int j = 0; j < y.length; j++) {
                if (Float.floatToIntBits(got[j]) != Float.floatToIntBits(expected[j])) {
                    assertThat(got[j]).as("round %d, element %d", round, j).isEqualTo(expected[j]);
                }
            }
        }
    }

    @Test
    void halfRoundingOfTinyValuesEqualsTheScalarConversionBitForBit() {
        // Every tie and its neighbours on the subnormal half grid (multiples of 2^-25 up to 2^-14), both signs,
        // zeros, and random magnitudes below 2^-14, eight lanes at a time through the accumulator.
        java.util.List<Float> values = new java.util.ArrayList<>(java.util.List.of(0f, -0f, 0x1p-14f, -0x1p-14f));
        for (int m = 0; m <= 2048; m++) {
            int tie = Float.floatToIntBits(m * 0x1p-25f);
            for (int d = -1; d <= 1; d++) {
                float v = Float.intBitsToFloat(Math.max(0, tie + d));
                values.add(v);
                values.add(-v);
            }
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int i = 0; i < 20_000; i++) {
            values.add(Float.intBitsToFloat(r.nextInt(Float.floatToIntBits(0x1p-14f))) * (r.nextBoolean() ? 1 : -1));
        }
        float[] y = new float[values.size() + 7];
        for (int i = 0; i < values.size(); i++) {
            y[i] = values.get(i);
        }
        float[] zeros = new float[y.length];
        float[] expected = y.clone();
        for (int i = 0; i < y.length; i++) {
            expected[i] = Float.float16ToFloat(Float.floatToFloat16(y[i] + zeros[i] * 0f));
        }
        CpuOps.halfAccumulate(y, 0, 1f, 0f, zeros, 0, y.length);
        for (int i = 0; i < y.length; i++) {
            assertThat(Float.floatToIntBits(y[i])).as("half(%s)", Float.toHexString(expected[i]))
                    .isEqualTo(Float.floatToIntBits(expected[i]));
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {8, 16, 64, 72, 2048, 172, 13})
    void transpose16EqualsTheScalarLayout(int cols) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(cols);
        float[] rows = new float[16 * cols];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) r.nextGaussian();
        }
        float[] panel = new float[16 * cols];
        CpuOps.transpose16(rows, panel, cols);
        for (int j = 0; j < 16; j++) {
            for (int k = 0; k < cols; k++) {
                org.assertj.core.api.Assertions.assertThat(panel[k * 16 + j]).as("row %d column %d", j, k)
                        .isEqualTo(rows[j * cols + k]);
            }
        }
    }
}
