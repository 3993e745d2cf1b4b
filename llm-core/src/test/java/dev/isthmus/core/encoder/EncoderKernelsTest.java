package dev.isthmus.core.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.backend.cpu.CpuOps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The encoder's single-precision vector steps against their double-precision scalar twins. */
class EncoderKernelsTest {

    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "7", "8", "384", "389"})
    void addLayerNormEqualsTheScalarLayerNormOfTheSum(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] x = gaussian(r, n + 3, 3);
        float[] delta = gaussian(r, n + 5, 1);
        float[] w = gaussian(r, n, 1);
        float[] b = gaussian(r, n, 1);
        float[] sum = new float[n];
        for (int i = 0; i < n; i++) {
            sum[i] = x[3 + i] + delta[5 + i];
        }
        float[] expected = new float[n];
        CpuOps.layerNorm(expected, 0, sum, 0, w, b, n, 1e-12f);
        EncoderKernels.addLayerNorm(x, 3, delta, 5, w, b, n, 1e-12f);
        for (int i = 0; i < n; i++) {
            assertThat((double) x[3 + i]).as("element %d", i).isCloseTo(expected[i], within(2e-5 * Math.max(1, Math.abs(expected[i]))));
        }
    }

    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "5", "8", "27", "128"})
    void softmaxEqualsTheScalarSoftmax(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] x = gaussian(r, n + 2, 4);
        float[] expected = x.clone();
        CpuOps.softmax(expected, 2, n);
        EncoderKernels.softmax(x, 2, n);
        for (int i = 0; i < n + 2; i++) {
            assertThat((double) x[i]).as("element %d", i).isCloseTo(expected[i], within(1e-6));
        }
    }

    @ParameterizedTest(name = "len={0} hd={1}")
    @CsvSource({"1, 32", "2, 32", "7, 32", "17, 32", "40, 64", "9, 12"})
    void attendHeadEqualsTheScalarForm(int len, int hd) {
        SplittableRandom r = new SplittableRandom(len * 100L + hd);
        int heads = 3;
        int d = heads * hd;
        int stride = 3 * d;
        int start = 2;
        float[] qkv = gaussian(r, (start + len) * stride, 1);
        float[] work = new float[EncoderKernels.attentionWork(len, hd)];
        for (int h = 0; h < heads; h++) {
            float[] out = new float[(start + len) * d];
            float[] expected = new float[(start + len) * d];
            float scale = (float) (1 / Math.sqrt(hd));
            EncoderKernels.attendHead(qkv, stride, start, len, h * hd, d + h * hd, 2 * d + h * hd, hd, scale, work,
                    out, h * hd, d);
            EncoderKernels.attendHeadScalar(qkv, stride, start, len, h * hd, d + h * hd, 2 * d + h * hd, hd, scale,
                    work, expected, h * hd, d);
            for (int i = 0; i < out.length; i++) {
                assertThat((double) out[i]).as("head %d, element %d", h, i).isCloseTo(expected[i], within(1e-5));
            }
        }
    }

    @Test
    void attentionWorkCoversPaddedKeysAndScores() {
        assertThat(EncoderKernels.attentionWork(1, 32)).isEqualTo(8 * 33);
        assertThat(EncoderKernels.attentionWork(512, 64)).isEqualTo(512 * 65);
    }

    private static float[] gaussian(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }
}
