package dev.isthmus.core.model;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * All weights of a decoder, checked against the configuration: a missing tensor or one of the wrong
 * shape fails here with its name, not later as garbage. Public so that a backend running the whole forward
 * pass on its device ({@link dev.isthmus.core.backend.Backend#forwardPass}) can upload them; the float arrays
 * are the model's own and must not be modified.
 */
public record DecoderWeights(Tensor tokenEmbedding, Tensor positionEmbedding, float[] outputNorm, float[] outputNormBias,
                      Tensor output, float[] ropeFreqs, List<LayerWeights> layers) {

    /** Every matrix the forward pass multiplies with (not the embeddings it looks rows up in), each once. */
    public List<Tensor> matrices() {
        List<Tensor> all = new ArrayList<>();
        for (LayerWeights w : layers) {
            for (Tensor t : new Tensor[] {w.wq(), w.wk(), w.wv(), w.wqkv(), w.wo(), w.ffnGate(), w.ffnUp(), w.ffnDown()}) {
                if (t != null) {
                    all.add(t);
                }
            }
        }
        all.add(output);
        return all;
    }

    static DecoderWeights load(GgufFile gguf, ModelConfig c) {
        return load(TensorSource.of(gguf), c);
    }

    static DecoderWeights load(TensorSource source, ModelConfig c) {
        Loader l = new Loader(source);
        Tensor embd = l.matrix("token_embd.weight", c.vocabSize(), c.dim());
        Tensor pos = c.family() == Family.GPT2 ? l.matrix("position_embd.weight", -1, c.dim()) : null;
        float[] outNorm = l.vector("output_norm.weight", c.dim());
        float[] outNormBias = c.family() == Family.GPT2 ? l.vector("output_norm.bias", c.dim()) : null;
        Tensor output = l.has("output.weight") ? l.matrix("output.weight", c.vocabSize(), c.dim()) : embd;
        float[] ropeFreqs = l.has("rope_freqs.weight") ? l.vector("rope_freqs.weight", c.ropeDims() / 2) : null;
        List<LayerWeights> layers = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            layers.add(layer(l, c, "blk." + i + "."));
        }
        return new DecoderWeights(embd, pos, outNorm, outNormBias, output, ropeFreqs, List.copyOf(layers));
    }

    private static LayerWeights layer(Loader l, ModelConfig c, String p) {
        boolean gpt2 = c.family() == Family.GPT2;
        int q = c.qDim();
        int kv = c.kvDim();
        int d = c.dim();
        int f = c.ffnDim();
        float[] attnNorm = l.vector(p + "attn_norm.weight", d);
        float[] attnNormBias = gpt2 ? l.vector(p + "attn_norm.bias", d) : null;
        Tensor wq = null, wk = null, wv = null, wqkv = null;
        float[] bq = null, bk = null, bv = null, bqkv = null;
        if (l.has(p + "attn_qkv.weight")) {
            wqkv = l.matrix(p + "attn_qkv.weight", q + 2 * kv, d);
            bqkv = l.optionalVector(p + "attn_qkv.bias", q + 2 * kv);
        } else {
            wq = l.matrix(p + "attn_q.weight", q, d);
            wk = l.matrix(p + "attn_k.weight", kv, d);
            wv = l.matrix(p + "attn_v.weight", kv, d);
            bq = l.optionalVector(p + "attn_q.bias", q);
            bk = l.optionalVector(p + "attn_k.bias", kv);
            bv = l.optionalVector(p + "attn_v.bias", kv);
        }
        Tensor wo = l.matrix(p + "attn_output.weight", d, q);
        float[] bo = l.optionalVector(p + "attn_output.bias", d);
        float[] ffnNorm = l.vector(p + "ffn_norm.weight", d);
        float[] ffnNormBias = gpt2 ? l.vector(p + "ffn_norm.bias", d) : null;
        Tensor gate = null;
        Tensor up;
        boolean fused = false;
        if (gpt2) {
            up = l.matrix(p + "ffn_up.weight", f, d);
        } else if (l.has(p + "ffn_gate.weight")) {
            gate = l.matrix(p + "ffn_gate.weight", f, d);
            up = l.matrix(p + "ffn_up.weight", f, d);
        } else {
            up = l.matrix(p + "ffn_up.weight", 2L * f, d);
            fused = true;
        }
        float[] upBias = l.optionalVector(p + "ffn_up.bias", f);
        Tensor down = l.matrix(p + "ffn_down.weight", d, f);
        float[] downBias = l.optionalVector(p + "ffn_down.bias", d);
        return new LayerWeights(attnNorm, attnNormBias, wq, wk, wv, bq, bk, bv, wqkv, bqkv, wo, bo, ffnNorm,
                ffnNormBias, gate, up, upBias, down, downBias, fused);
    }

    /** Fetches tensors by name and checks their shapes. */
    private record Loader(TensorSource source) {
        boolean has(String name) {
            return source.find(name).isPresent();
        }

        private Tensor get(String name) {
            return source.find(name).orElseThrow(() -> new ModelLoadException("the model has no tensor '"
                    + source.describe(name) + "'"));
        }

        /** A [rows, cols] matrix; rows = -1 accepts any row count. */
        Tensor matrix(String name, long rows, long cols) {
            Tensor t = get(name);
            long[] shape = t.shape();
            if (shape.length != 2 || shape[1] != cols || (rows >= 0 && shape[0] != rows)) {
                throw new ModelLoadException("tensor '" + source.describe(name) + "' has shape " + Arrays.toString(shape)
                        + ", expected [" + (rows < 0 ? "*" : rows) + ", " + cols + "]");
            }
            t.format(); // fail now, naming the module, if the format's kernels are missing
            return t;
        }

        float[] vector(String name, long n) {
            Tensor t = get(name);
            if (t.elementCount() != n) {
                throw new ModelLoadException("tensor '" + source.describe(name) + "' has " + t.elementCount()
                        + " elements, expected " + n);
            }
            return t.toFloatArray();
        }

        float[] optionalVector(String name, long n) {
            return has(name) ? vector(name, n) : null;
        }
    }
}
