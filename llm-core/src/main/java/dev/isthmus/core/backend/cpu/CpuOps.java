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
     *
     * <p>Each lane is rounded to the nearest half (ties to even) with float additions: for a lane in binade
     * [2^e, 2^(e+1)), half precision keeps multiples of 2^(e-10) (of 2^-24 below 2^-14, where e is taken as
     * -14), and adding then subtracting C = ±1.5 · 2^(e+13) rounds to exactly those — the sum lies in a binade
     * whose float spacing is that multiple, C is an even multiple of it (so ties go to even), and subtracting C
     * back is exact. The sign is put back last (a negative lane that rounds to zero is -0). A vector with a lane
     * of 65520 or more in magnitude (the half infinity) or a NaN, rare, goes through the JDK's scalar conversion.
     *
     * <p>Written with Vector API calls only, in two loops: C2 left helpers taking vectors out of line in some
     * compilations, and a vector passed to a call, or merged from both arms of a branch, was allocated on the
     * heap on every step (prefill of 128 tokens after 1024, Q4_0, two threads: 61-64 tok/s before, 65-66 after).
     */
    public static void halfAccumulate(float[] y, int yOff, float scale, float a, float[] x, int xOff, int n) {
        int i = 0;
        FloatVector av = FloatVector.broadcast(F, a);
        int bound = F.loopBound(n);
        // Two loops rather than one with a conditional rescaling: a vector variable merged from both branches was
        // allocated on the heap on every step.
        if (scale == 1f) {
            for (; i < bound; i += F.length()) {
                // Product and sum rounded separately, as the scalar form does (no fused multiply-add).
                FloatVector sum = FloatVector.fromArray(F, y, yOff + i).add(FloatVector.fromArray(F, x, xOff + i).mul(av));
                IntVector bits = sum.reinterpretAsInts();
                if (bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, HALF_OVERFLOW_BITS - 1).anyTrue()) {
                    halfAccumulateScalar(y, yOff + i, scale, a, x, xOff + i, F.length());
                } else {
                    IntVector sign = bits.and(0x8000_0000);
                    FloatVector c = bits.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000)
                            .or(sign).reinterpretAsFloats();
                    sum.add(c).sub(c).reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(y, yOff + i);
                }
            }
        } else {
            for (; i < bound; i += F.length()) {
                FloatVector scaled = FloatVector.fromArray(F, y, yOff + i).mul(scale);
                IntVector bits = scaled.reinterpretAsInts();
                IntVector sign = bits.and(0x8000_0000);
                FloatVector c = bits.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000)
                        .or(sign).reinterpretAsFloats();
                FloatVector sum = scaled.add(c).sub(c).reinterpretAsInts().or(sign).reinterpretAsFloats()
                        .add(FloatVector.fromArray(F, x, xOff + i).mul(av));
                IntVector sumBits = sum.reinterpretAsInts();
                if (bits.and(0x7FFF_FFFF).max(sumBits.and(0x7FFF_FFFF))
                        .compare(VectorOperators.GT, HALF_OVERFLOW_BITS - 1).anyTrue()) {
                    halfAccumulateScalar(y, yOff + i, scale, a, x, xOff + i, F.length());
                } else {
                    IntVector sumSign = sumBits.and(0x8000_0000);
                    FloatVector d = sumBits.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000)
                            .or(sumSign).reinterpretAsFloats();
                    sum.add(d).sub(d).reinterpretAsInts().or(sumSign).reinterpretAsFloats().intoArray(y, yOff + i);
                }
            }
        }
        halfAccumulateScalar(y, yOff + i, scale, a, x, xOff + i, n - i);
    }

    /**
     * {@link #halfAccumulate} over {@code n} value rows in turn: for p = 0..n-1,
     * {@code y[yOff + j] = half(half(y[yOff + j] · ms[msOff + p]) + values[vOff + p·stride + j] · vs[vsOff + p])}
     * for j below {@code width} (the first rounding only where that ms is not 1), with the same results bit for
     * bit. Each 32 elements of {@code y} are held in registers across all the rows, so a step costs the value
     * loads and the arithmetic only; the rest of the width goes through {@link #halfAccumulate} row by row.
     *
     * <pre>{@code
     * // acc (one head's 64 values) after rows 0..n-1 of a cache with kvDim floats per row; factors[0..n) are
     * // the rows' ms, factors[n..2n) their vs:
     * CpuOps.halfAccumulateRows(acc, 0, 64, factors, 0, n, n, cachedValues, 0, kvDim);
     * }</pre>
     */
    public static void halfAccumulateRows(float[] y, int yOff, int width, float[] ms, int msOff, int vsOff, int n,
                                          float[] values, int vOff, int stride) {
        int c = 0;
        if (panelKernelsAvailable()) {
            for (; c + 32 <= width; c += 32) {
                halfAccumulateRows32(y, yOff + c, ms, msOff, vsOff, n, values, vOff + c, stride);
            }
        }
        if (c < width) {
            for (int p = 0; p < n; p++) {
                halfAccumulate(y, yOff + c, ms[msOff + p], ms[vsOff + p], values, vOff + p * stride + c, width - c);
            }
        }
    }

    /**
     * {@link #halfAccumulateRows} for 32 elements, four 8-lane vectors kept in registers. A row whose ms is not 1
     * (the running maximum grew: a few rows of a long context) or whose sums leave the half range goes through
     * {@link #halfAccumulate}, the accumulators stored before and loaded after, so that no vector crosses a call.
     * Written with Vector API calls only (C2 leaves helpers taking vectors out of line in some compilations, and
     * a vector passed to a call is allocated on the heap), and no wider: C2 inlines the Vector API's methods late,
     * and past its node budget it leaves them calls to their Java fallbacks. Sixty-four elements at once measured
     * at 44 instead of 69 tok/s of prefill in about one run in five (measured once, perhaps beside other work on
     * the machine, but not tried again).
     */
    private static void halfAccumulateRows32(float[] y, int yOff, float[] ms, int msOff, int vsOff, int n,
                                             float[] values, int vOff, int stride) {
        FloatVector a0 = FloatVector.fromArray(F8, y, yOff);
        FloatVector a1 = FloatVector.fromArray(F8, y, yOff + 8);
        FloatVector a2 = FloatVector.fromArray(F8, y, yOff + 16);
        FloatVector a3 = FloatVector.fromArray(F8, y, yOff + 24);
        for (int p = 0; p < n; p++) {
            int row = vOff + p * stride;
            float vs = ms[vsOff + p];
            // Product and sum rounded separately, as the scalar form does (no fused multiply-add).
            FloatVector s0 = a0.add(FloatVector.fromArray(F8, values, row).mul(vs));
            FloatVector s1 = a1.add(FloatVector.fromArray(F8, values, row + 8).mul(vs));
            FloatVector s2 = a2.add(FloatVector.fromArray(F8, values, row + 16).mul(vs));
            FloatVector s3 = a3.add(FloatVector.fromArray(F8, values, row + 24).mul(vs));
            IntVector b0 = s0.reinterpretAsInts();
            IntVector b1 = s1.reinterpretAsInts();
            IntVector b2 = s2.reinterpretAsInts();
            IntVector b3 = s3.reinterpretAsInts();
            // A rescaled row (the sums above are then unused), or one whose largest magnitude (as bits, NaNs above
            // every number) reaches the half infinity: the array-based step, which handles both.
            if (ms[msOff + p] != 1f
                    || b0.and(0x7FFF_FFFF).max(b1.and(0x7FFF_FFFF)).max(b2.and(0x7FFF_FFFF).max(b3.and(0x7FFF_FFFF)))
                    .compare(VectorOperators.GT, HALF_OVERFLOW_BITS - 1).anyTrue()) {
                a0.intoArray(y, yOff);
                a1.intoArray(y, yOff + 8);
                a2.intoArray(y, yOff + 16);
                a3.intoArray(y, yOff + 24);
                halfAccumulate(y, yOff, ms[msOff + p], vs, values, row, 32);
                a0 = FloatVector.fromArray(F8, y, yOff);
                a1 = FloatVector.fromArray(F8, y, yOff + 8);
                a2 = FloatVector.fromArray(F8, y, yOff + 16);
                a3 = FloatVector.fromArray(F8, y, yOff + 24);
                continue;
            }
            // Rounding to half as in halfAccumulate: ± 1.5 · 2^(e+13) added and taken off, the sign put back.
            IntVector g0 = b0.and(0x8000_0000);
            FloatVector c0 = b0.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000).or(g0).reinterpretAsFloats();
            a0 = s0.add(c0).sub(c0).reinterpretAsInts().or(g0).reinterpretAsFloats();
            IntVector g1 = b1.and(0x8000_0000);
            FloatVector c1 = b1.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000).or(g1).reinterpretAsFloats();
            a1 = s1.add(c1).sub(c1).reinterpretAsInts().or(g1).reinterpretAsFloats();
            IntVector g2 = b2.and(0x8000_0000);
            FloatVector c2 = b2.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000).or(g2).reinterpretAsFloats();
            a2 = s2.add(c2).sub(c2).reinterpretAsInts().or(g2).reinterpretAsFloats();
            IntVector g3 = b3.and(0x8000_0000);
            FloatVector c3 = b3.and(0x7F80_0000).max(HALF_MIN_NORMAL_EXPONENT).add(13 << 23).or(0x0040_0000).or(g3).reinterpretAsFloats();
            a3 = s3.add(c3).sub(c3).reinterpretAsInts().or(g3).reinterpretAsFloats();
        }
        a0.intoArray(y, yOff);
        a1.intoArray(y, yOff + 8);
        a2.intoArray(y, yOff + 16);
        a3.intoArray(y, yOff + 24);
    }

    /**
     * {@link #halfAccumulate}'s steps one element at a time, through the JDK's conversions: the tail, and the rare
     * vector with a lane past the half range (or NaN). Such a vector's lanes are recomputed here from the arrays,
     * not from the vector: a vector that reached this call would be allocated on the heap on every step of the
     * loop (C2 materializes it before the branch), which tripled the cost of the common path.
     */
    private static void halfAccumulateScalar(float[] y, int yOff, float scale, float a, float[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            float v = y[yOff + i];
            if (scale != 1f) {
                v = Float.float16ToFloat(Float.floatToFloat16(v * scale));
            }
            y[yOff + i] = Float.float16ToFloat(Float.floatToFloat16(v + x[xOff + i] * a));
        }
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
