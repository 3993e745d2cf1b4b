package dev.isthmus.core.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and small reduction operations of a transformer layer, on float arrays, computed the
 * way ggml computes them (sums of squares and exponentials accumulated in double) so that results track
 * llama.cpp closely.
 */
public final class CpuOps {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final float SQRT_2_OVER_PI = 0.79788456080286535587989211986876f;
    private static final float GELU_COEF_A = 0.044715f;

    private CpuOps() {
    }

    /** Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /** {@code out = x / sqrt(mean(x²) + eps) * weight}. */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            sum += v * v;
        }
        float mean = (float) (sum / n);
        float scale = (float) (1.0 / Math.sqrt(mean + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * scale) * weight[i];
        }
    }

    /** {@code out = (x - mean) / sqrt(var + eps) * weight + bias}. */
    public static void layerNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, float[] bias, int n,
                                 float eps) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += x[xOff + i];
        }
        float mean = (float) (sum / n);
        double sq = 0;
        for (int i = 0; i < n; i++) {
            float d = x[xOff + i] - mean;
            sq += d * d;
        }
        float variance = (float) (sq / n);
        float scale = (float) (1.0 / Math.sqrt(variance + eps));
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - mean) * scale;
            out[outOff + i] = v * weight[i] + (bias == null ? 0f : bias[i]);
        }
    }

    /** In-place softmax of {@code x[off..off+n)}. */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            x[off + i] *= inv;
        }
    }

    /** {@code x[i] += y[i]}. */
    public static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).add(FloatVector.fromArray(F, y, yOff + i)).intoArray(x, xOff + i);
        }
        for (; i < n; i++) {
            x[xOff + i] += y[yOff + i];
        }
    }

    /** {@code gate[i] = silu(gate[i]) * up[i]} (SwiGLU). */
    public static void swiglu(float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gOff + i];
            gate[gOff + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uOff + i];
        }
    }

    /**
     * In-place GELU (tanh approximation). Like ggml's CPU kernel, the input is rounded to half precision
     * and the result looked up as a half — reproduced exactly here so logits track llama.cpp.
     */
    public static void gelu(float[] x, int off, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (v <= -10f) {
                x[off + i] = 0f;
            } else if (v < 10f) {
                float h = Float.float16ToFloat(Float.floatToFloat16(v));
                float g = 0.5f * h * (1.0f + (float) Math.tanh(SQRT_2_OVER_PI * h * (1.0f + GELU_COEF_A * h * h)));
                x[off + i] = Float.float16ToFloat(Float.floatToFloat16(g));
            }
        }
    }

    /** {@code x[i] += bias[i]}. */
    public static void addBias(float[] x, int off, float[] bias, int n) {
        add(x, off, bias, 0, n);
    }
}
