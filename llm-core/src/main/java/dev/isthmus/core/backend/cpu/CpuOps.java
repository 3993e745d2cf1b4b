package dev.isthmus.core.backend.cpu;

import dev.isthmus.core.tensor.IntLanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and small reduction operations of a transformer layer, on float arrays, computed the
 * way ggml computes them (sums of squares and exponentials accumulated in double) so that results track
 * llama.cpp closely.
 */
public final class CpuOps {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final float SQRT_2_OVER_PI = 0.79788456080286535587989211986876f;
    private static final float GELU_COEF_A = 0.044715f;

    private CpuOps() {
    }

    /** Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int i = 0;
        for (int bound = n - 4 * l; i <= bound; i += 4 * l) {
            a0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), a0);
            a1 = FloatVector.fromArray(F, a, aOff + i + l).fma(FloatVector.fromArray(F, b, bOff + i + l), a1);
            a2 = FloatVector.fromArray(F, a, aOff + i + 2 * l).fma(FloatVector.fromArray(F, b, bOff + i + 2 * l), a2);
            a3 = FloatVector.fromArray(F, a, aOff + i + 3 * l).fma(FloatVector.fromArray(F, b, bOff + i + 3 * l), a3);
        }
        for (int bound = F.loopBound(n); i < bound; i += l) {
            a0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), a0);
        }
        float sum = IntLanes.sum(a0.add(a1).add(a2.add(a3)));
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * The prefill micro-kernel: dot products of four weight rows ({@code w[wOff + k·n ...]}, k = 0..3) with
     * two activation vectors at once, so every load feeds more than one FMA. Writes
     * {@code out[o0 + k]} for x0 and {@code out[o1 + k]} for x1 with a row stride of {@code rowStride}.
     */
    public static void dot4x2(float[] w, int wOff, int n, float[] x, int x0, int x1, float[] out, int o0, int o1,
                              int rowStride) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        int l = F.length();
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += l) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i);
            FloatVector w1 = FloatVector.fromArray(F, w, wOff + n + i);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * n + i);
            FloatVector w3 = FloatVector.fromArray(F, w, wOff + 3 * n + i);
            a00 = w0.fma(v0, a00);
            a10 = w1.fma(v0, a10);
            a20 = w2.fma(v0, a20);
            a30 = w3.fma(v0, a30);
            a01 = w0.fma(v1, a01);
            a11 = w1.fma(v1, a11);
            a21 = w2.fma(v1, a21);
            a31 = w3.fma(v1, a31);
        }
        float s00 = IntLanes.sum(a00);
        float s10 = IntLanes.sum(a10);
        float s20 = IntLanes.sum(a20);
        float s30 = IntLanes.sum(a30);
        float s01 = IntLanes.sum(a01);
        float s11 = IntLanes.sum(a11);
        float s21 = IntLanes.sum(a21);
        float s31 = IntLanes.sum(a31);
        for (; i < n; i++) {
            s00 += w[wOff + i] * x[x0 + i];
            s10 += w[wOff + n + i] * x[x0 + i];
            s20 += w[wOff + 2 * n + i] * x[x0 + i];
            s30 += w[wOff + 3 * n + i] * x[x0 + i];
            s01 += w[wOff + i] * x[x1 + i];
            s11 += w[wOff + n + i] * x[x1 + i];
            s21 += w[wOff + 2 * n + i] * x[x1 + i];
            s31 += w[wOff + 3 * n + i] * x[x1 + i];
        }
        out[o0] = s00;
        out[o0 + rowStride] = s10;
        out[o0 + 2 * rowStride] = s20;
        out[o0 + 3 * rowStride] = s30;
        out[o1] = s01;
        out[o1 + rowStride] = s11;
        out[o1 + 2 * rowStride] = s21;
        out[o1 + 3 * rowStride] = s31;
    }

    /**
     * Outer-product micro-kernel for prefill: 16 weight rows stored as a column-major panel
     * ({@code panel[k·16 + j]} = row j, column k) times 6 activation vectors. Twelve accumulators, two panel
     * loads and six broadcasts per column, no horizontal sums. Writes {@code out[(t0+i)·rowStride + r0 + j]}.
     */
    public static void panel16x6(float[] panel, int cols, float[] x, int t0, float[] out, int r0, int rowStride) {
        FloatVector a00 = FloatVector.zero(F8);
        FloatVector a01 = FloatVector.zero(F8);
        FloatVector a10 = FloatVector.zero(F8);
        FloatVector a11 = FloatVector.zero(F8);
        FloatVector a20 = FloatVector.zero(F8);
        FloatVector a21 = FloatVector.zero(F8);
        FloatVector a30 = FloatVector.zero(F8);
        FloatVector a31 = FloatVector.zero(F8);
        FloatVector a40 = FloatVector.zero(F8);
        FloatVector a41 = FloatVector.zero(F8);
        FloatVector a50 = FloatVector.zero(F8);
        FloatVector a51 = FloatVector.zero(F8);
        int x0 = t0 * cols;
        for (int k = 0; k < cols; k++) {
            FloatVector p0 = FloatVector.fromArray(F8, panel, k * 16);
            FloatVector p1 = FloatVector.fromArray(F8, panel, k * 16 + 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = p0.fma(b, a00);
            a01 = p1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x0 + cols + k]);
            a10 = p0.fma(b, a10);
            a11 = p1.fma(b, a11);
            b = FloatVector.broadcast(F8, x[x0 + 2 * cols + k]);
            a20 = p0.fma(b, a20);
            a21 = p1.fma(b, a21);
            b = FloatVector.broadcast(F8, x[x0 + 3 * cols + k]);
            a30 = p0.fma(b, a30);
            a31 = p1.fma(b, a31);
            b = FloatVector.broadcast(F8, x[x0 + 4 * cols + k]);
            a40 = p0.fma(b, a40);
            a41 = p1.fma(b, a41);
            b = FloatVector.broadcast(F8, x[x0 + 5 * cols + k]);
            a50 = p0.fma(b, a50);
            a51 = p1.fma(b, a51);
        }
        int o = t0 * rowStride + r0;
        a00.intoArray(out, o);
        a01.intoArray(out, o + 8);
        a10.intoArray(out, o + rowStride);
        a11.intoArray(out, o + rowStride + 8);
        a20.intoArray(out, o + 2 * rowStride);
        a21.intoArray(out, o + 2 * rowStride + 8);
        a30.intoArray(out, o + 3 * rowStride);
        a31.intoArray(out, o + 3 * rowStride + 8);
        a40.intoArray(out, o + 4 * rowStride);
        a41.intoArray(out, o + 4 * rowStride + 8);
        a50.intoArray(out, o + 5 * rowStride);
        a51.intoArray(out, o + 5 * rowStride + 8);
    }

    /** Whether the panel kernels can run (they assume 8-lane float vectors). */
    public static boolean panelKernelsAvailable() {
        return F8.length() == 8 && F.length() >= 8;
    }

    /**
     * Lays 16 rows of {@code cols} floats ({@code rows[j·cols + k]}) out column-major for the panel kernels
     * ({@code panel[k·16 + j]}): 8×8 blocks transposed in registers, a scalar loop where {@code cols} is not a
     * multiple of 8.
     *
     * <p>A block is transposed by swapping its off-diagonal sub-blocks at three scales (1, 2 and 4 lanes): rows i
     * and i+b trade their lanes with bit b set against the other's lanes with bit b clear, one single-vector
     * permute and one blend per row. Two-vector rearranges would need two permutes, a computed mask and a
     * variable blend each, and measured three times slower.
     */
    public static void transpose16(float[] rows, float[] panel, int cols) {
        if (cols % 8 != 0 || F8.length() != 8) {
            for (int j = 0; j < 16; j++) {
                int src = j * cols;
                for (int k = 0; k < cols; k++) {
                    panel[k * 16 + j] = rows[src + k];
                }
            }
            return;
        }
        for (int jb = 0; jb < 16; jb += 8) {
            int r = jb * cols;
            for (int k = 0; k < cols; k += 8) {
                FloatVector r0 = FloatVector.fromArray(F8, rows, r + k);
                FloatVector r1 = FloatVector.fromArray(F8, rows, r + cols + k);
                FloatVector r2 = FloatVector.fromArray(F8, rows, r + 2 * cols + k);
                FloatVector r3 = FloatVector.fromArray(F8, rows, r + 3 * cols + k);
                FloatVector r4 = FloatVector.fromArray(F8, rows, r + 4 * cols + k);
                FloatVector r5 = FloatVector.fromArray(F8, rows, r + 5 * cols + k);
                FloatVector r6 = FloatVector.fromArray(F8, rows, r + 6 * cols + k);
                FloatVector r7 = FloatVector.fromArray(F8, rows, r + 7 * cols + k);
                // Scale 1: row pairs (0,1), (2,3), (4,5), (6,7).
                FloatVector t0 = r0.blend(r1.rearrange(SWAP_1), LANE_BIT_0);
                FloatVector t1 = r0.rearrange(SWAP_1).blend(r1, LANE_BIT_0);
                FloatVector t2 = r2.blend(r3.rearrange(SWAP_1), LANE_BIT_0);
                FloatVector t3 = r2.rearrange(SWAP_1).blend(r3, LANE_BIT_0);
                FloatVector t4 = r4.blend(r5.rearrange(SWAP_1), LANE_BIT_0);
                FloatVector t5 = r4.rearrange(SWAP_1).blend(r5, LANE_BIT_0);
                FloatVector t6 = r6.blend(r7.rearrange(SWAP_1), LANE_BIT_0);
                FloatVector t7 = r6.rearrange(SWAP_1).blend(r7, LANE_BIT_0);
                // Scale 2: pairs (0,2), (1,3), (4,6), (5,7).
                FloatVector u0 = t0.blend(t2.rearrange(SWAP_2), LANE_BIT_1);
                FloatVector u2 = t0.rearrange(SWAP_2).blend(t2, LANE_BIT_1);
                FloatVector u1 = t1.blend(t3.rearrange(SWAP_2), LANE_BIT_1);
                FloatVector u3 = t1.rearrange(SWAP_2).blend(t3, LANE_BIT_1);
                FloatVector u4 = t4.blend(t6.rearrange(SWAP_2), LANE_BIT_1);
                FloatVector u6 = t4.rearrange(SWAP_2).blend(t6, LANE_BIT_1);
                FloatVector u5 = t5.blend(t7.rearrange(SWAP_2), LANE_BIT_1);
                FloatVector u7 = t5.rearrange(SWAP_2).blend(t7, LANE_BIT_1);
                // Scale 4: pairs (0,4), (1,5), (2,6), (3,7); row i of the result is column k + i of the rows.
                int at = k * 16 + jb;
                u0.blend(u4.rearrange(SWAP_4), LANE_BIT_2).intoArray(panel, at);
                u1.blend(u5.rearrange(SWAP_4), LANE_BIT_2).intoArray(panel, at + 16);
                u2.blend(u6.rearrange(SWAP_4), LANE_BIT_2).intoArray(panel, at + 32);
                u3.blend(u7.rearrange(SWAP_4), LANE_BIT_2).intoArray(panel, at + 48);
                u0.rearrange(SWAP_4).blend(u4, LANE_BIT_2).intoArray(panel, at + 64);
                u1.rearrange(SWAP_4).blend(u5, LANE_BIT_2).intoArray(panel, at + 80);
                u2.rearrange(SWAP_4).blend(u6, LANE_BIT_2).intoArray(panel, at + 96);
                u3.rearrange(SWAP_4).blend(u7, LANE_BIT_2).intoArray(panel, at + 112);
            }
        }
    }

    /** Lane l ↔ lane l xor 1, xor 2, xor 4. */
    private static final VectorShuffle<Float> SWAP_1 = VectorShuffle.fromValues(F8, 1, 0, 3, 2, 5, 4, 7, 6);
    private static final VectorShuffle<Float> SWAP_2 = VectorShuffle.fromValues(F8, 2, 3, 0, 1, 6, 7, 4, 5);
    private static final VectorShuffle<Float> SWAP_4 = VectorShuffle.fromValues(F8, 4, 5, 6, 7, 0, 1, 2, 3);
    /** The lanes whose index has bit 0, 1 or 2 set. */
    private static final VectorMask<Float> LANE_BIT_0 = VectorMask.fromLong(F8, 0b1010_1010);
    private static final VectorMask<Float> LANE_BIT_1 = VectorMask.fromLong(F8, 0b1100_1100);
    private static final VectorMask<Float> LANE_BIT_2 = VectorMask.fromLong(F8, 0b1111_0000);

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

    /** {@code y[i] += a · x[i]}. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        FloatVector av = FloatVector.broadcast(F, a);
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(av, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    /**
     * {@code y[i] = half(half(y[i]) · scale + x[i] · a)}-style step of a half-precision accumulator:
     * {@code y[i] = roundToHalf(y[i] · scale)} when {@code scale != 1}, then {@code y[i] = roundToHalf(y[i] + a · x[i])}.
     * Equal, bit for bit, to the scalar {@code Float.float16ToFloat(Float.floatToFloat16(...))} form.
     */
    public static void halfAccumulate(float[] y, int yOff, float scale, float a, float[] x, int xOff, int n) {
        int i = 0;
        FloatVector av = FloatVector.broadcast(F, a);
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector acc = FloatVector.fromArray(F, y, yOff + i);
            if (scale != 1f) {
                acc = roundToHalf(acc.mul(scale));
            }
            // Product and sum rounded separately, as the scalar form does (no fused multiply-add).
            acc = roundToHalf(acc.add(FloatVector.fromArray(F, x, xOff + i).mul(av)));
            acc.intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            float v = y[yOff + i];
            if (scale != 1f) {
                v = Float.float16ToFloat(Float.floatToFloat16(v * scale));
            }
            y[yOff + i] = Float.float16ToFloat(Float.floatToFloat16(v + x[xOff + i] * a));
        }
    }

    /**
     * Rounds each lane to the nearest IEEE half (ties to even) and widens it back, with float additions: for a
     * lane in binade [2^e, 2^(e+1)), half precision keeps multiples of 2^(e-10) (of 2^-24 below 2^-14, where
     * e is taken as -14), and adding then subtracting C = ±1.5 · 2^(e+13) rounds to exactly those — the sum
     * lies in a binade whose float spacing is that multiple, C is an even multiple of it (so ties go to even),
     * and subtracting C back is exact. The sign is put back last (a negative lane that rounds to zero is -0).
     * Lanes that overflow the half range (from 65520 up) and NaNs (rare) go through the JDK's scalar
     * conversion; one integer comparison finds both.
     */
    static FloatVector roundToHalf(FloatVector v) {
        IntVector bits = v.reinterpretAsInts();
        IntVector sign = bits.and(0x8000_0000);
        IntVector magnitude = bits.and(0x7FFF_FFFF);
        IntVector exponent = magnitude.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT);
        FloatVector c = exponent.add(13 << 23).or(0x0040_0000).or(sign).reinterpretAsFloats();
        FloatVector out = v.add(c).sub(c).reinterpretAsInts().or(sign).reinterpretAsFloats();
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, HALF_OVERFLOW_BITS);
        if (special.anyTrue()) {
            float[] lanes = v.toArray();
            float[] fixed = out.toArray();
            for (int k = 0; k < lanes.length; k++) {
                if (special.laneIsSet(k)) {
                    fixed[k] = Float.float16ToFloat(Float.floatToFloat16(lanes[k]));
                }
            }
            out = FloatVector.fromArray(F, fixed, 0);
        }
        return out;
    }

    /** The float exponent field of 2^-14, the smallest normal half: below it halves are multiples of 2^-24. */
    private static final int HALF_MIN_NORMAL_EXPONENT = Float.floatToRawIntBits(0x1p-14f);
    /** Bits of 65520, from which a float rounds to the half infinity; NaNs' bits are larger still. */
    private static final int HALF_OVERFLOW_BITS = Float.floatToRawIntBits(65520f);

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

    /**
     * In-place exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), vectorised: erf as the odd rational function on [-4, 4]
     * of Eigen's and XLA's float erf (beyond ±4 erf is ±1 in float), absolute error below 2e-7 — about float
     * precision, and no exponential or table. The tail goes through {@link #erf}, its scalar twin.
     */
    public static void geluErf(float[] x, int off, int n) {
        int i = 0;
        FloatVector lo = FloatVector.broadcast(F, -4f);
        FloatVector hi = FloatVector.broadcast(F, 4f);
        float invSqrt2 = (float) (1 / Math.sqrt(2));
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            FloatVector u = v.mul(invSqrt2).max(lo).min(hi);
            FloatVector u2 = u.mul(u);
            FloatVector p = u2.mul(-2.72614225801306e-10f).add(2.77068142495902e-08f);
            p = p.fma(u2, FloatVector.broadcast(F, -2.10102402082508e-06f));
            p = p.fma(u2, FloatVector.broadcast(F, -5.69250639462346e-05f));
            p = p.fma(u2, FloatVector.broadcast(F, -7.34990630326855e-04f));
            p = p.fma(u2, FloatVector.broadcast(F, -2.95459980854025e-03f));
            p = p.fma(u2, FloatVector.broadcast(F, -1.60960333262415e-02f));
            FloatVector q = u2.mul(-1.45660718464996e-05f).add(-2.13374055278905e-04f);
            q = q.fma(u2, FloatVector.broadcast(F, -1.68282697438203e-03f));
            q = q.fma(u2, FloatVector.broadcast(F, -7.37332916720468e-03f));
            q = q.fma(u2, FloatVector.broadcast(F, -1.42647390514189e-02f));
            FloatVector erf = p.mul(u).div(q);
            v.mul(0.5f).mul(erf.add(1f)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            double v = x[off + i];
            x[off + i] = (float) (0.5 * v * (1.0 + erf(v / Math.sqrt(2.0))));
        }
    }

    /** erf with a fractional error below 1.2e-7 (Numerical Recipes' erfc fit); the scalar twin of {@link #geluErf}. */
    public static double erf(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? 1.0 - erfc : erfc - 1.0;
    }

    /** {@code x[i] += bias[i]}. */
    public static void addBias(float[] x, int off, float[] bias, int n) {
        add(x, off, bias, 0, n);
    }
}
