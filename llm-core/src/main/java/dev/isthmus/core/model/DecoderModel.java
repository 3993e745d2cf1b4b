package dev.isthmus.core.model;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.cpu.CpuOps;
import dev.isthmus.core.backend.cpu.Rope;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.adapter.LoraAdapter;
import dev.isthmus.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The forward pass shared by the decoder families: embeddings, then per block pre-norm attention with
 * a KV cache and a pre-norm feed-forward network, each added to the residual stream, then the final norm
 * and the LM head. Prompts are processed as matrices ({@link #forward} with many tokens), decoding one
 * token at a time.
 *
 * <pre>{@code
 * DecoderModel model = DecoderModel.load(gguf, backend);
 * InferenceState state = model.newState(512);
 * float[] logits = new float[model.config().vocabSize()];
 * model.forward(state, promptIds, 0, promptIds.length, logits, false);
 * }</pre>
 */
public final class DecoderModel {
    /** Largest number of tokens pushed through the layers at once (as llama.cpp's default micro-batch). */
    public static final int MAX_BATCH = 512;

    private final ModelConfig config;
    private final DecoderWeights weights;
    private final Backend backend;
    private final Rope rope;
    /** The backend's device forward pass, or null to run the pass here (matmuls through the backend). */
    private final DeviceForward device;
    private volatile List<LoraDelta> adapters = List.of();

    private DecoderModel(ModelConfig config, DecoderWeights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        this.rope = config.ropeStyle() == null ? null
                : new Rope(config.ropeStyle(), config.ropeDims(), config.ropeBase(), weights.ropeFreqs());
        this.device = backend.forwardPass(config, weights).orElse(null);
        if (device == null) {
            weights.matrices().forEach(backend::prepare);
        }
    }

    /**
     * Builds the model described by a GGUF file's metadata and tensors.
     *
     * @throws UnsupportedArchitectureException if the architecture is not a supported decoder
     * @throws ModelLoadException               if a tensor is missing or misshapen
     */
    public static DecoderModel load(GgufFile gguf, Backend backend) {
        Family.of(gguf.modelMetadata().architecture());
        Tensor embd = gguf.tensorInfo("token_embd.weight").map(i -> gguf.tensor(i.name()))
                .orElseThrow(() -> new ModelLoadException("the model has no tensor 'token_embd.weight'"));
        if (embd.rank() != 2) {
            throw new ModelLoadException("tensor 'token_embd.weight' must be 2-D, is " + embd);
        }
        ModelConfig config = ModelConfig.from(gguf.modelMetadata(), Math.toIntExact(embd.dim(0)));
        return new DecoderModel(config, DecoderWeights.load(gguf, config), backend);
    }

    /** Builds a model from a configuration and a tensor source (e.g. a Hugging Face safetensors checkpoint). */
    public static DecoderModel load(ModelConfig config, TensorSource source, Backend backend) {
        return new DecoderModel(config, DecoderWeights.load(source, config), backend);
    }

    public ModelConfig config() {
        return config;
    }

    /** A fresh session state holding up to {@code contextLength} positions. */
    public InferenceState newState(int contextLength) {
        return newState(contextLength, true);
    }

    /** As {@link #newState(int)}, choosing whether the KV cache rounds to half precision. */
    public InferenceState newState(int contextLength, boolean halfPrecisionCache) {
        if (contextLength < 1) {
            throw new IllegalArgumentException("context length must be positive, got " + contextLength);
        }
        if (weights.positionEmbedding() != null && contextLength > weights.positionEmbedding().dim(0)) {
            throw new IllegalArgumentException("context length " + contextLength + " exceeds the "
                    + weights.positionEmbedding().dim(0) + " learned positions of this model");
        }
        if (device != null) {
            return new InferenceState(config, halfPrecisionCache, device.newCache(contextLength, halfPrecisionCache));
        }
        return new InferenceState(config, contextLength, Math.min(MAX_BATCH, contextLength), halfPrecisionCache);
    }

    /** Whether the whole forward pass runs on the backend's device ({@link Backend#forwardPass}). */
    public boolean runsOnDevice() {
        return device != null;
    }

    /**
     * Runs {@code count} tokens from {@code tokens[offset..]} at the state's next positions.
     *
     * @param logits    receives the next-token logits: for the last token only ({@code vocab} floats), or
     *                  with {@code allLogits} for every token ({@code count × vocab} floats)
     * @throws ContextOverflowException if the tokens do not fit in the state's context
     */
    public void forward(InferenceState s, int[] tokens, int offset, int count, float[] logits, boolean allLogits) {
        if (count < 1) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
        if (s.position + count > s.capacity()) {
            throw new ContextOverflowException(s.position, count, s.capacity());
        }
        int vocab = config.vocabSize();
        if (logits.length < (allLogits ? (long) count * vocab : vocab)) {
            throw new IllegalArgumentException("logits array too small: " + logits.length);
        }
        for (int i = 0; i < count; i++) {
            int t = tokens[offset + i];
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary of " + vocab);
            }
        }
        if (s.deviceCache != null) {
            device.forward(s.deviceCache, tokens, offset, count, s.position, logits, allLogits);
            s.position += count;
            return;
        }
        for (int done = 0; done < count; done += s.maxBatch) {
            int n = Math.min(s.maxBatch, count - done);
            boolean last = done + n == count;
            batch(s, tokens, offset + done, n);
            if (allLogits) {
                logitsFor(s, 0, n, logits, done * vocab);
            } else if (last) {
                logitsFor(s, n - 1, 1, logits, 0);
            }
        }
    }

    private void batch(InferenceState s, int[] tokens, int offset, int n) {
        int d = config.dim();
        int start = s.position;
        for (int i = 0; i < n; i++) {
            weights.tokenEmbedding().dequantizeRow(tokens[offset + i], s.x, i * d);
            if (weights.positionEmbedding() != null) {
                weights.positionEmbedding().dequantizeRow(start + i, s.proj, 0);
                CpuOps.add(s.x, i * d, s.proj, 0, d);
            }
        }
        for (int l = 0; l < config.layers(); l++) {
            LayerWeights w = weights.layers().get(l);
            attention(s, l, w, n, start);
            feedForward(s, l, w, n);
        }
        s.position += n;
    }

    private void norm(float[] out, float[] x, int n, float[] weight, float[] bias) {
        int d = config.dim();
        for (int i = 0; i < n; i++) {
            if (config.family() == Family.GPT2) {
                CpuOps.layerNorm(out, i * d, x, i * d, weight, bias, d, config.normEps());
            } else {
                CpuOps.rmsNorm(out, i * d, x, i * d, weight, d, config.normEps());
            }
        }
    }

    private static void addBias(float[] x, int n, int width, float[] bias) {
        if (bias != null) {
            for (int i = 0; i < n; i++) {
                CpuOps.addBias(x, i * width, bias, width);
            }
        }
    }

    private void attention(InferenceState s, int layer, LayerWeights w, int n, int start) {
        int d = config.dim();
        int qd = config.qDim();
        int kvd = config.kvDim();
        norm(s.xb, s.x, n, w.attnNorm(), w.attnNormBias());
        if (w.wqkv() != null) {
            int width = qd + 2 * kvd;
            backend.matmul(w.wqkv(), s.xb, s.qkv, n);
            addBias(s.qkv, n, width, w.bqkv());
            for (int i = 0; i < n; i++) {
                System.arraycopy(s.qkv, i * width, s.q, i * qd, qd);
                System.arraycopy(s.qkv, i * width + qd, s.k, i * kvd, kvd);
                System.arraycopy(s.qkv, i * width + qd + kvd, s.v, i * kvd, kvd);
            }
        } else {
            project(layer, "attn_q", w.wq(), s.xb, s.q, n);
            project(layer, "attn_k", w.wk(), s.xb, s.k, n);
            project(layer, "attn_v", w.wv(), s.xb, s.v, n);
            addBias(s.q, n, qd, w.bq());
            addBias(s.k, n, kvd, w.bk());
            addBias(s.v, n, kvd, w.bv());
        }
        for (int i = 0; i < n; i++) {
            if (rope != null) {
                rope.angles(start + i, s.cos, s.sin);
                rope.apply(s.q, i * qd, config.heads(), config.headDim(), s.cos, s.sin);
                rope.apply(s.k, i * kvd, config.kvHeads(), config.headDim(), s.cos, s.sin);
            }
            s.cache.store(layer, start + i, s.k, i * kvd, s.v, i * kvd);
        }
        attend(s, layer, n, start);
        project(layer, "attn_output", w.wo(), s.att, s.proj, n);
        addBias(s.proj, n, d, w.bo());
        CpuOps.add(s.x, 0, s.proj, 0, n * d);
    }

    /** A projection: the backend's matmul, plus the low-rank updates of the active LoRA adapters. */
    private void project(int layer, String role, Tensor weight, float[] in, float[] out, int n) {
        backend.matmul(weight, in, out, n);
        List<LoraDelta> active = adapters;
        if (!active.isEmpty()) {
            int cols = Math.toIntExact(weight.dim(1));
            int rows = Math.toIntExact(weight.dim(0));
            for (LoraDelta d : active) {
                d.apply(layer, role, in, cols, out, rows, n);
            }
        }
    }

    /**
     * Replaces the active LoRA adapters (empty list: none). Takes effect from the next forward pass; adapters
     * whose shapes do not fit this model are refused, naming the projection.
     *
     * @throws UnsupportedOperationException if the forward pass runs on a device ({@link #runsOnDevice()})
     */
    public void setAdapters(List<LoraAdapter> list) {
        if (device != null && !list.isEmpty()) {
            throw new UnsupportedOperationException("LoRA adapters are not applied by the " + backend.name()
                    + " backend's device forward pass; merge the adapter into the weights (LoraMerger) or use the cpu backend");
        }
        List<LoraDelta> deltas = new ArrayList<>();
        for (LoraAdapter a : list) {
            deltas.add(LoraDelta.attach(a, this));
        }
        adapters = List.copyOf(deltas);
    }

    /** The weight matrix playing {@code role} in {@code layer} (for adapters to check shapes against). */
    Tensor projection(int layer, String role) {
        if (layer < 0 || layer >= weights.layers().size()) {
            return null;
        }
        LayerWeights w = weights.layers().get(layer);
        return switch (role) {
            case "attn_q" -> w.wq();
            case "attn_k" -> w.wk();
            case "attn_v" -> w.wv();
            case "attn_output" -> w.wo();
            case "ffn_gate" -> w.ffnGate();
            case "ffn_up" -> w.fusedGateUp() ? null : w.ffnUp();
            case "ffn_down" -> w.ffnDown();
            default -> null;
        };
    }

    /** Multiply-adds below which attention runs on the calling thread (forking would cost more). */
    private static final long PARALLEL_ATTENTION = 1L << 15;
    private final ThreadLocal<float[]> attentionScratch = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Causal attention of the batch's queries over the cached keys and values, parallel over heads. With a half
     * precision cache, the query heads that share a key/value head are computed together, position by position,
     * so that each cached row is read from memory once for all of them (7 times less traffic for a 14/2-head
     * model), unless that leaves fewer tasks than threads.
     */
    private void attend(InferenceState s, int layer, int n, int start) {
        int heads = config.heads();
        int group = config.heads() / config.kvHeads();
        int together = s.halfPrecisionAttention ? headsTogether(group, (long) n * config.kvHeads()) : 1;
        int chunks = heads / together;
        long work = (long) n * heads * (start + n) * config.headDim();
        if (work < PARALLEL_ATTENTION) {
            for (int task = 0; task < n * chunks; task++) {
                attendHeads(s, layer, start, task / chunks, (task % chunks) * together, together);
            }
        } else {
            backend.parallelFor(n * chunks, task -> attendHeads(s, layer, start, task / chunks,
                    (task % chunks) * together, together));
        }
    }

    /** The most query heads of a group of {@code group} to compute together that still give every thread a task. */
    private int headsTogether(int group, long groups) {
        int threads = Math.max(1, backend.threads());
        int together = group;
        while (together > 1 && groups * (group / together) < threads) {
            int d = together - 1;
            while (group % d != 0) {
                d--;
            }
            together = d;
        }
        return together;
    }

    /** Attention of query {@code i}, heads {@code first .. first + count - 1} (all of one key/value head). */
    private void attendHeads(InferenceState s, int layer, int start, int i, int first, int count) {
        if (count == 1) {
            attendOne(s, layer, start, i, first);
            return;
        }
        int hd = config.headDim();
        int qd = config.qDim();
        int group = config.heads() / config.kvHeads();
        attendHalf(s, s.cache.keys(layer), s.cache.values(layer), i * qd + first * hd, (first / group) * hd,
                i * qd + first * hd, start + i + 1, (float) (1.0 / Math.sqrt(hd)), count);
    }

    /** Attention of query {@code i} of the batch, head {@code h}. */
    private void attendOne(InferenceState s, int layer, int start, int i, int h) {
        int hd = config.headDim();
        int qd = config.qDim();
        int kvd = config.kvDim();
        int group = config.heads() / config.kvHeads();
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] keys = s.cache.keys(layer);
        float[] values = s.cache.values(layer);
        int positions = start + i + 1;
        int qOff = i * qd + h * hd;
        int kvOff = (h / group) * hd;
        int outOff = i * qd + h * hd;
        if (s.halfPrecisionAttention) {
            attendHalf(s, keys, values, qOff, kvOff, outOff, positions, scale, 1);
            return;
        }
        float[] scores = scratch(positions);
        for (int p = 0; p < positions; p++) {
            scores[p] = CpuOps.dot(s.q, qOff, keys, p * kvd + kvOff, hd) * scale;
        }
        CpuOps.softmax(scores, 0, positions);
        java.util.Arrays.fill(s.att, outOff, outOff + hd, 0f);
        for (int p = 0; p < positions; p++) {
            CpuOps.axpy(scores[p], values, p * kvd + kvOff, s.att, outOff, hd);
        }
    }

    /** A per-thread scratch array of at least {@code n} floats. */
    private float[] scratch(int n) {
        float[] a = attentionScratch.get();
        if (a.length < n) {
            a = new float[Math.max(n, 2 * a.length)];
            attentionScratch.set(a);
        }
        return a;
    }

    /** Cached positions taken at a time by {@link #attendHalf}: their keys and values stay in L2 across its heads. */
    private static final int ATTENTION_BLOCK = 256;

    /**
     * Attention of {@code count} consecutive query heads sharing one key/value head, computed as llama.cpp's
     * CPU flash-attention kernel does for each: F16 query, online softmax, and the weighted sum of values
     * accumulated in half precision (rounded after every step). Each head's operations are those it would get
     * alone, in the same order; they are only grouped differently. The cached positions go in blocks that all
     * the heads take in turn while the block's keys and values are in cache; within a block a head first takes
     * every position's score and softmax factors, then adds up the values with its accumulator in registers
     * ({@link CpuOps#halfAccumulateRows}).
     */
    private void attendHalf(InferenceState s, float[] keys, float[] values, int qOff, int kvOff, int outOff,
                                    int positions, float scale, int count) {
        int hd = config.headDim();
        int kvd = config.kvDim();
        float[] acc = scratch(count * hd + 2 * count + 2 * ATTENTION_BLOCK);
        int maxAt = count * hd;
        int sumAt = maxAt + count;
        int msAt = sumAt + count;
        int vsAt = msAt + ATTENTION_BLOCK;
        for (int j = 0; j < count * hd; j++) {
            s.q[qOff + j] = half(s.q[qOff + j]);
            acc[j] = 0f;
        }
        for (int h = 0; h < count; h++) {
            acc[maxAt + h] = Float.NEGATIVE_INFINITY;
            acc[sumAt + h] = 0f;
        }
        for (int p0 = 0; p0 < positions; p0 += ATTENTION_BLOCK) {
            int n = Math.min(ATTENTION_BLOCK, positions - p0);
            for (int h = 0; h < count; h++) {
                float max = acc[maxAt + h];
                float sum = acc[sumAt + h];
                for (int p = 0; p < n; p++) {
                    float score = CpuOps.dot(s.q, qOff + h * hd, keys, (p0 + p) * kvd + kvOff, hd) * scale;
                    float ms = 1f;
                    float vs = 1f;
                    if (score > max) {
                        ms = (float) Math.exp(max - score);
                        max = score;
                    } else {
                        vs = (float) Math.exp(score - max);
                    }
                    sum = sum * ms + vs;
                    acc[msAt + p] = ms;
                    acc[vsAt + p] = vs;
                }
                acc[maxAt + h] = max;
                acc[sumAt + h] = sum;
                CpuOps.halfAccumulateRows(acc, h * hd, hd, acc, msAt, vsAt, n, values, p0 * kvd + kvOff, kvd);
            }
        }
        for (int h = 0; h < count; h++) {
            float inv = 1f / acc[sumAt + h];
            for (int j = 0; j < hd; j++) {
                s.att[outOff + h * hd + j] = acc[h * hd + j] * inv;
            }
        }
    }

    private static float half(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    private void feedForward(InferenceState s, int layer, LayerWeights w, int n) {
        int d = config.dim();
        int f = config.ffnDim();
        norm(s.xb, s.x, n, w.ffnNorm(), w.ffnNormBias());
        if (w.ffnGate() != null) {
            project(layer, "ffn_gate", w.ffnGate(), s.xb, s.hb, n);
            project(layer, "ffn_up", w.ffnUp(), s.xb, s.hb2, n);
            swiglu(s, n, f);
        } else if (w.fusedGateUp()) {
            backend.matmul(w.ffnUp(), s.xb, s.hb, n);
            for (int i = 0; i < n; i++) {
                // Rows 0..f-1 are the gate, f..2f-1 the up projection.
                System.arraycopy(s.hb, i * 2 * f + f, s.hb2, i * f, f);
                System.arraycopy(s.hb, i * 2 * f, s.hb, i * f, f);
            }
            swiglu(s, n, f);
        } else {
            project(layer, "ffn_up", w.ffnUp(), s.xb, s.hb, n);
            addBias(s.hb, n, f, w.ffnUpBias());
            CpuOps.gelu(s.hb, 0, n * f);
        }
        project(layer, "ffn_down", w.ffnDown(), s.hb, s.proj, n);
        addBias(s.proj, n, d, w.ffnDownBias());
        CpuOps.add(s.x, 0, s.proj, 0, n * d);
    }

    /** SwiGLU of a batch, a token per task: one exponential per element, worth spreading over the threads. */
    private void swiglu(InferenceState s, int n, int f) {
        backend.parallelFor(n, i -> CpuOps.swiglu(s.hb, i * f, s.hb2, i * f, f));
    }

    private void logitsFor(InferenceState s, int first, int n, float[] logits, int logitsOffset) {
        int d = config.dim();
        float[] normed = new float[n * d];
        for (int i = 0; i < n; i++) {
            if (config.family() == Family.GPT2) {
                CpuOps.layerNorm(normed, i * d, s.x, (first + i) * d, weights.outputNorm(), weights.outputNormBias(), d,
                        config.normEps());
            } else {
                CpuOps.rmsNorm(normed, i * d, s.x, (first + i) * d, weights.outputNorm(), d, config.normEps());
            }
        }
        if (logitsOffset == 0) {
            backend.matmul(weights.output(), normed, logits, n);
        } else {
            float[] tmp = new float[n * config.vocabSize()];
            backend.matmul(weights.output(), normed, tmp, n);
            System.arraycopy(tmp, 0, logits, logitsOffset, tmp.length);
        }
    }
}
