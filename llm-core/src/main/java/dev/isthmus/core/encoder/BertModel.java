package dev.isthmus.core.encoder;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Linear;
import dev.isthmus.core.backend.cpu.CpuOps;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The BERT forward pass: embeddings (token + position + type 0, LayerNorm), then post-norm blocks of
 * bidirectional attention and a GELU feed-forward network. Several sequences run together: the
 * projections see all their tokens as one batch, attention stays within each sequence (so no padding).
 * The projections are {@link Linear} layers the backend prepares at load (the CPU decodes them to float
 * panels), Q, K and V stacked into one.
 */
final class BertModel {
    /** Below this many (token, token, head) attention terms the heads run on the calling thread. */
    private static final long PARALLEL_ATTENTION = 1L << 15;

    private final EncoderConfig config;
    private final EncoderWeights weights;
    private final Backend backend;
    private final List<LayerOps> layers;
    /** Buffers of the last call, reused by the next (a concurrent call allocates its own). */
    private final AtomicReference<Scratch> scratch = new AtomicReference<>();
    private final ThreadLocal<float[]> attentionWork = ThreadLocal.withInitial(() -> new float[0]);

    /** A layer's projections, prepared by the backend once: fused Q|K|V, output, GELU up, down. */
    private record LayerOps(Linear qkv, Linear out, Linear up, Linear down, EncoderWeights.Layer w) {
    }

    /** Activations of one call: Q|K|V rows, attention output, projection, feed-forward hidden. */
    private record Scratch(int tokens, float[] qkv, float[] att, float[] proj, float[] hidden) {
        static Scratch of(int tokens, EncoderConfig c) {
            int d = c.dim();
            return new Scratch(tokens, new float[tokens * 3 * d], new float[tokens * d], new float[tokens * d],
                    new float[tokens * c.ffnDim()]);
        }
    }

    BertModel(EncoderConfig config, EncoderWeights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        List<LayerOps> ops = new ArrayList<>();
        for (EncoderWeights.Layer w : weights.layers()) {
            int d = config.dim();
            float[] qkvBias = new float[3 * d];
            System.arraycopy(w.bq(), 0, qkvBias, 0, d);
            System.arraycopy(w.bk(), 0, qkvBias, d, d);
            System.arraycopy(w.bv(), 0, qkvBias, 2 * d, d);
            ops.add(new LayerOps(
                    backend.linear(List.of(w.wq(), w.wk(), w.wv()), qkvBias, Linear.Activation.IDENTITY),
                    backend.linear(List.of(w.wo()), w.bo(), Linear.Activation.IDENTITY),
                    backend.linear(List.of(w.up()), w.upB(), Linear.Activation.GELU_ERF),
                    backend.linear(List.of(w.down()), w.downB(), Linear.Activation.IDENTITY), w));
        }
        this.layers = List.copyOf(ops);
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
                EncoderKernels.addLayerNorm(x, t * d, weights.tokenType0(), 0, weights.embNormW(), weights.embNormB(),
                        d, config.normEps());
            }
        }
        Scratch s = scratch.getAndSet(null);
        if (s == null || s.tokens() < total) {
            s = Scratch.of(total, config);
        }
        for (LayerOps l : layers) {
            l.qkv().apply(x, s.qkv(), total);
            attention(sequences, s.qkv(), s.att());
            l.out().apply(s.att(), s.proj(), total);
            residualNorm(x, s.proj(), l.w().attnNormW(), l.w().attnNormB(), total);
            l.up().apply(x, s.hidden(), total);
            l.down().apply(s.hidden(), s.proj(), total);
            residualNorm(x, s.proj(), l.w().outNormW(), l.w().outNormB(), total);
        }
        scratch.set(s);
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
        for (int i = 0; i < n; i++) {
            EncoderKernels.addLayerNorm(x, i * d, delta, i * d, w, b, d, config.normEps());
        }
    }

    /** Attention within each sequence over the fused Q|K|V rows, every (sequence, head) independent. */
    private void attention(int[][] sequences, float[] qkv, float[] out) {
        int heads = config.heads();
        int[] starts = new int[sequences.length + 1];
        long terms = 0;
        int longest = 0;
        for (int i = 0; i < sequences.length; i++) {
            starts[i + 1] = starts[i] + sequences[i].length;
            terms += (long) sequences[i].length * sequences[i].length * heads;
            longest = Math.max(longest, sequences[i].length);
        }
        int size = EncoderKernels.attentionWork(longest, config.headDim());
        if (terms < PARALLEL_ATTENTION || backend.threads() == 1) {
            float[] work = attentionWork(size);
            for (int task = 0; task < sequences.length * heads; task++) {
                attend(qkv, out, starts, task / heads, task % heads, work);
            }
        } else {
            backend.parallelFor(sequences.length * heads,
                    task -> attend(qkv, out, starts, task / heads, task % heads, attentionWork(size)));
        }
    }

    /** This thread's attention work space, at least {@code size} floats. */
    private float[] attentionWork(int size) {
        float[] work = attentionWork.get();
        if (work.length < size) {
            work = new float[size];
            attentionWork.set(work);
        }
        return work;
    }

    private void attend(float[] qkv, float[] out, int[] starts, int seq, int h, float[] work) {
        int d = config.dim();
        int hd = config.headDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        EncoderKernels.attendHead(qkv, 3 * d, starts[seq], starts[seq + 1] - starts[seq], h * hd, d + h * hd,
                2 * d + h * hd, hd, scale, work, out, h * hd, d);
    }

    /** Exact GELU, x·Φ(x), as BERT was trained with (not the tanh approximation). */
    static void geluErf(float[] x) {
        CpuOps.geluErf(x, 0, x.length);
    }

    static double erf(double x) {
        return CpuOps.erf(x);
    }
}
