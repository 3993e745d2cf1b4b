package dev.isthmus.core.encoder;

import dev.isthmus.core.backend.cpu.CpuOps;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The light per-token steps of a BERT layer in single precision with the Vector API, as ONNX Runtime computes
 * them (the encoder's reference), rather than in {@link CpuOps}'s double-accumulating form that tracks
 * llama.cpp. {@link CpuOps#layerNorm} and {@link CpuOps#softmax} are their scalar twins in the tests.
 */
final class EncoderKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private EncoderKernels() {
    }

    /** {@code x = LayerNorm(x + delta)} over {@code x[off..off+n)} ({@code delta} may be {@code null}). */
    static void addLayerNorm(float[] x, int off, float[] delta, int dOff, float[] weight, float[] bias, int n,
                             float eps) {
        int l = F.length();
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        if (delta != null) {
            for (; i < bound; i += l) {
                FloatVector v = FloatVector.fromArray(F, x, off + i).add(FloatVector.fromArray(F, delta, dOff + i));
                v.intoArray(x, off + i);
                acc = acc.add(v);
            }
        } else {
            for (; i < bound; i += l) {
                acc = acc.add(FloatVector.fromArray(F, x, off + i));
            }
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            if (delta != null) {
                x[off + i] += delta[dOff + i];
            }
            sum += x[off + i];
        }
        float mean = sum / n;
        FloatVector m = FloatVector.broadcast(F, mean);
        acc = FloatVector.zero(F);
        for (i = 0; i < bound; i += l) {
            FloatVector d = FloatVector.fromArray(F, x, off + i).sub(m);
            acc = d.fma(d, acc);
        }
        float sq = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float d = x[off + i] - mean;
            sq += d * d;
        }
        float scale = (float) (1.0 / Math.sqrt(sq / n + eps));
        FloatVector s = FloatVector.broadcast(F, scale);
        for (i = 0; i < bound; i += l) {
            FloatVector v = FloatVector.fromArray(F, x, off + i).sub(m).mul(s);
            v.fma(FloatVector.fromArray(F, weight, i), FloatVector.fromArray(F, bias, i)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] = (x[off + i] - mean) * scale * weight[i] + bias[i];
        }
    }

    /** In-place softmax of {@code x[off..off+n)}. */
    static void softmax(float[] x, int off, int n) {
        int l = F.length();
        int bound = F.loopBound(n);
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (bound > 0) {
            FloatVector mv = FloatVector.fromArray(F, x, off);
            for (i = l; i < bound; i += l) {
                mv = mv.max(FloatVector.fromArray(F, x, off + i));
            }
            max = mv.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        FloatVector m = FloatVector.broadcast(F, max);
        FloatVector acc = FloatVector.zero(F);
        for (i = 0; i < bound; i += l) {
            FloatVector e = FloatVector.fromArray(F, x, off + i).sub(m).lanewise(VectorOperators.EXP);
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (i = 0; i < bound; i += l) {
            FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= inv;
        }
    }

    /** Floats of work space {@link #attendHead} needs for sequences up to {@code maxLen} and head width {@code hd}. */
    static int attentionWork(int maxLen, int hd) {
        int padded = (maxLen + 7) / 8 * 8;
        return padded * (hd + 1);
    }

    /**
     * Bidirectional attention of one head over one sequence: rows {@code t} of {@code qkv} (stride {@code stride})
     * hold the query at {@code q + t·stride}, key at {@code k + t·stride}, value at {@code v + t·stride}, each
     * {@code hd} wide, for {@code t} in {@code [start, start+len)}; writes {@code out[o + t·outStride ...]}.
     * {@code work} holds {@link #attentionWork} floats. The keys are transposed into {@code work} once, so a
     * query's scores come out eight keys per vector; the values are summed in registers, eight dimensions per
     * vector; enough independent accumulators keep the multiply-adds from waiting on each other (head widths
     * that are not a multiple of 8 take {@link #attendHeadScalar}).
     */
    static void attendHead(float[] qkv, int stride, int start, int len, int q, int k, int v, int hd, float scale,
                           float[] work, float[] out, int o, int outStride) {
        if (hd % 8 != 0 || F.length() < 8) {
            attendHeadScalar(qkv, stride, start, len, q, k, v, hd, scale, work, out, o, outStride);
            return;
        }
        int padded = (len + 7) / 8 * 8;
        int scores = padded * hd;
        // kT[c·padded + j] = key j, dimension c; the padding columns stay zero.
        java.util.Arrays.fill(work, 0, scores + padded, 0f);
        for (int j = 0; j < len; j++) {
            int kj = k + (start + j) * stride;
            for (int c = 0; c < hd; c++) {
                work[c * padded + j] = qkv[kj + c];
            }
        }
        for (int i = start; i < start + len; i++) {
            int qi = q + i * stride;
            // Scores: columns split over four accumulator chains, sixteen keys (or eight) at a time.
            int jb = 0;
            for (; jb + 16 <= padded; jb += 16) {
                FloatVector a0 = FloatVector.zero(F8);
                FloatVector a1 = a0;
                FloatVector b0 = a0;
                FloatVector b1 = a0;
                FloatVector c0 = a0;
                FloatVector c1 = a0;
                FloatVector d0 = a0;
                FloatVector d1 = a0;
                for (int c = 0; c < hd; c += 4) {
                    int at = c * padded + jb;
                    FloatVector s0 = FloatVector.broadcast(F8, qkv[qi + c]);
                    a0 = FloatVector.fromArray(F8, work, at).fma(s0, a0);
                    a1 = FloatVector.fromArray(F8, work, at + 8).fma(s0, a1);
                    FloatVector s1 = FloatVector.broadcast(F8, qkv[qi + c + 1]);
                    b0 = FloatVector.fromArray(F8, work, at + padded).fma(s1, b0);
                    b1 = FloatVector.fromArray(F8, work, at + padded + 8).fma(s1, b1);
                    FloatVector s2 = FloatVector.broadcast(F8, qkv[qi + c + 2]);
                    c0 = FloatVector.fromArray(F8, work, at + 2 * padded).fma(s2, c0);
                    c1 = FloatVector.fromArray(F8, work, at + 2 * padded + 8).fma(s2, c1);
                    FloatVector s3 = FloatVector.broadcast(F8, qkv[qi + c + 3]);
                    d0 = FloatVector.fromArray(F8, work, at + 3 * padded).fma(s3, d0);
                    d1 = FloatVector.fromArray(F8, work, at + 3 * padded + 8).fma(s3, d1);
                }
                a0.add(b0).add(c0.add(d0)).mul(scale).intoArray(work, scores + jb);
                a1.add(b1).add(c1.add(d1)).mul(scale).intoArray(work, scores + jb + 8);
            }
            if (jb < padded) {
                FloatVector a0 = FloatVector.zero(F8);
                FloatVector b0 = a0;
                FloatVector c0 = a0;
                FloatVector d0 = a0;
                for (int c = 0; c < hd; c += 4) {
                    int at = c * padded + jb;
                    a0 = FloatVector.fromArray(F8, work, at).fma(FloatVector.broadcast(F8, qkv[qi + c]), a0);
                    b0 = FloatVector.fromArray(F8, work, at + padded).fma(FloatVector.broadcast(F8, qkv[qi + c + 1]), b0);
                    c0 = FloatVector.fromArray(F8, work, at + 2 * padded).fma(
                            FloatVector.broadcast(F8, qkv[qi + c + 2]), c0);
                    d0 = FloatVector.fromArray(F8, work, at + 3 * padded).fma(
                            FloatVector.broadcast(F8, qkv[qi + c + 3]), d0);
                }
                a0.add(b0).add(c0.add(d0)).mul(scale).intoArray(work, scores + jb);
            }
            softmax(work, scores, len);
            // Weighted values: 32 dimensions (four vectors) at a time in two chains over the keys, then by eights.
            int oi = o + i * outStride;
            int cb = 0;
            for (; cb + 32 <= hd; cb += 32) {
                FloatVector a0 = FloatVector.zero(F8);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                FloatVector b0 = a0;
                FloatVector b1 = a0;
                FloatVector b2 = a0;
                FloatVector b3 = a0;
                int j = 0;
                for (; j + 2 <= len; j += 2) {
                    int vj = v + (start + j) * stride + cb;
                    FloatVector p = FloatVector.broadcast(F8, work[scores + j]);
                    a0 = FloatVector.fromArray(F8, qkv, vj).fma(p, a0);
                    a1 = FloatVector.fromArray(F8, qkv, vj + 8).fma(p, a1);
                    a2 = FloatVector.fromArray(F8, qkv, vj + 16).fma(p, a2);
                    a3 = FloatVector.fromArray(F8, qkv, vj + 24).fma(p, a3);
                    p = FloatVector.broadcast(F8, work[scores + j + 1]);
                    b0 = FloatVector.fromArray(F8, qkv, vj + stride).fma(p, b0);
                    b1 = FloatVector.fromArray(F8, qkv, vj + stride + 8).fma(p, b1);
                    b2 = FloatVector.fromArray(F8, qkv, vj + stride + 16).fma(p, b2);
                    b3 = FloatVector.fromArray(F8, qkv, vj + stride + 24).fma(p, b3);
                }
                if (j < len) {
                    int vj = v + (start + j) * stride + cb;
                    FloatVector p = FloatVector.broadcast(F8, work[scores + j]);
                    a0 = FloatVector.fromArray(F8, qkv, vj).fma(p, a0);
                    a1 = FloatVector.fromArray(F8, qkv, vj + 8).fma(p, a1);
                    a2 = FloatVector.fromArray(F8, qkv, vj + 16).fma(p, a2);
                    a3 = FloatVector.fromArray(F8, qkv, vj + 24).fma(p, a3);
                }
                a0.add(b0).intoArray(out, oi + cb);
                a1.add(b1).intoArray(out, oi + cb + 8);
                a2.add(b2).intoArray(out, oi + cb + 16);
                a3.add(b3).intoArray(out, oi + cb + 24);
            }
            for (; cb < hd; cb += 8) {
                FloatVector a0 = FloatVector.zero(F8);
                FloatVector a1 = a0;
                int j = 0;
                for (; j + 2 <= len; j += 2) {
                    int vj = v + (start + j) * stride + cb;
                    a0 = FloatVector.fromArray(F8, qkv, vj).fma(FloatVector.broadcast(F8, work[scores + j]), a0);
                    a1 = FloatVector.fromArray(F8, qkv, vj + stride).fma(
                            FloatVector.broadcast(F8, work[scores + j + 1]), a1);
                }
                if (j < len) {
                    int vj = v + (start + j) * stride + cb;
                    a0 = FloatVector.fromArray(F8, qkv, vj).fma(FloatVector.broadcast(F8, work[scores + j]), a0);
                }
                a0.add(a1).intoArray(out, oi + cb);
            }
        }
    }

    /** The straightforward form of {@link #attendHead} (dot products, then weighted sums of the values). */
    static void attendHeadScalar(float[] qkv, int stride, int start, int len, int q, int k, int v, int hd, float scale,
                                 float[] work, float[] out, int o, int outStride) {
        for (int i = start; i < start + len; i++) {
            int qi = q + i * stride;
            for (int j = 0; j < len; j++) {
                work[j] = CpuOps.dot(qkv, qi, qkv, k + (start + j) * stride, hd) * scale;
            }
            softmax(work, 0, len);
            int oi = o + i * outStride;
            java.util.Arrays.fill(out, oi, oi + hd, 0f);
            for (int j = 0; j < len; j++) {
                CpuOps.axpy(work[j], qkv, v + (start + j) * stride, out, oi, hd);
            }
        }
    }
}
