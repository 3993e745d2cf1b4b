package dev.isthmus.core.encoder;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.cpu.CpuOps;

/**
 * The BERT forward pass: embeddings (token + position + type 0, LayerNorm), then post-norm blocks of
 * bidirectional attention and a GELU feed-forward network. Several sequences run together: the
 * projections see all their tokens as one batch, attention stays within each sequence (so no padding).
 */
final class BertModel {
    private final EncoderConfig config;
    private final EncoderWeights weights;
    private final Backend backend;

    BertModel(EncoderConfig config, EncoderWeights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
    }

    /** Hidden states of every token of every sequence, concatenated ({@code Σ lengths × dim}). */
    float[] hiddenStates(int[][] sequences) {
        int d = config.dim();
        int total = 0;
        for (int[] s : sequences) {
            if (s.length == 0 || s.length > config.maxTokens()) {
                throw new IllegalArgumentException("sequence of " + s.length + " tokens; the encoder takes 1.."
                        + config.maxTokens());
            }
            total += s.length;
        }
        float[] x = new float[total * d];
        float[] tmp = new float[d];
        int t = 0;
        for (int[] s : sequences) {
            for (int p = 0; p < s.length; p++, t++) {
                int id = s[p];
                if (id < 0 || id >= weights.tokenEmbedding().dim(0)) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary");
                }
                weights.tokenEmbedding().dequantizeRow(id, x, t * d);
                weights.positionEmbedding().dequantizeRow(p, tmp, 0);
                CpuOps.add(x, t * d, tmp, 0, d);
                CpuOps.add(x, t * d, weights.tokenType0(), 0, d);
                CpuOps.layerNorm(x, t * d, x, t * d, weights.embNormW(), weights.embNormB(), d, config.normEps());
            }
        }
        float[] q = new float[total * d];
        float[] k = new float[total * d];
        float[] v = new float[total * d];
        float[] att = new float[total * d];
        float[] proj = new float[total * d];
        float[] hidden = new float[total * config.ffnDim()];
        for (EncoderWeights.Layer w : weights.layers()) {
            linear(w.wq(), w.bq(), x, q, total, d);
            linear(w.wk(), w.bk(), x, k, total, d);
            linear(w.wv(), w.bv(), x, v, total, d);
            attention(sequences, q, k, v, att);
            linear(w.wo(), w.bo(), att, proj, total, d);
            residualNorm(x, proj, w.attnNormW(), w.attnNormB(), total);
            linear(w.up(), w.upB(), x, hidden, total, config.ffnDim());
            geluErf(hidden);
            linear(w.down(), w.downB(), hidden, proj, total, d);
            residualNorm(x, proj, w.outNormW(), w.outNormB(), total);
        }
        return x;
    }

    EncoderWeights weights() {
        return weights;
    }

    void linear(dev.isthmus.core.tensor.Tensor w, float[] bias, float[] in, float[] out, int n, int width) {
        // Full-precision activations: the reference for encoders is ONNX Runtime, not llama.cpp.
        backend.matmul(w, in, out, n, false);
        for (int i = 0; i < n; i++) {
            CpuOps.addBias(out, i * width, bias, width);
        }
    }

    private void residualNorm(float[] x, float[] delta, float[] w, float[] b, int n) {
        int d = config.dim();
        CpuOps.add(x, 0, delta, 0, n * d);
        for (int i = 0; i < n; i++) {
            CpuOps.layerNorm(x, i * d, x, i * d, w, b, d, config.normEps());
        }
    }

    private void attention(int[][] sequences, float[] q, float[] k, float[] v, float[] out) {
        int d = config.dim();
        int hd = config.headDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        int start = 0;
        float[] scores = new float[config.maxTokens()];
        for (int[] s : sequences) {
            int len = s.length;
            for (int i = 0; i < len; i++) {
                for (int h = 0; h < config.heads(); h++) {
                    int qOff = (start + i) * d + h * hd;
                    for (int j = 0; j < len; j++) {
                        scores[j] = CpuOps.dot(q, qOff, k, (start + j) * d + h * hd, hd) * scale;
                    }
                    CpuOps.softmax(scores, 0, len);
                    int o = (start + i) * d + h * hd;
                    java.util.Arrays.fill(out, o, o + hd, 0f);
                    for (int j = 0; j < len; j++) {
                        CpuOps.axpy(scores[j], v, (start + j) * d + h * hd, out, o, hd);
                    }
                }
            }
            start += len;
        }
    }

    /** Exact GELU, x·Φ(x), as BERT was trained with (not the tanh approximation). */
    static void geluErf(float[] x) {
        CpuOps.geluErf(x, 0, x.length);
    }

    static double erf(double x) {
        return CpuOps.erf(x);
    }
}
