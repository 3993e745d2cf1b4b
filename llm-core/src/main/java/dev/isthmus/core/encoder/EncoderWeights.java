package dev.isthmus.core.encoder;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** BERT weights under llama.cpp's tensor names, shape-checked at load. */
record EncoderWeights(Tensor tokenEmbedding, Tensor positionEmbedding, float[] tokenType0, float[] embNormW,
                      float[] embNormB, List<Layer> layers, MlmHead mlm) {

    record Layer(Tensor wq, float[] bq, Tensor wk, float[] bk, Tensor wv, float[] bv, Tensor wo, float[] bo,
                 float[] attnNormW, float[] attnNormB, Tensor up, float[] upB, Tensor down, float[] downB,
                 float[] outNormW, float[] outNormB) {
    }

    /**
     * The masked-language-model head (transform, LayerNorm, decoder tied to the token embeddings), stored under
     * {@code mlm.*} names by Isthmus's writers; llama.cpp's BERT GGUFs do not carry one.
     */
    record MlmHead(Tensor dense, float[] denseB, float[] normW, float[] normB, float[] decoderBias) {
    }

    static EncoderWeights load(GgufFile gguf, EncoderConfig c) {
        int d = c.dim();
        Tensor tok = matrix(gguf, "token_embd.weight", -1, d);
        Tensor pos = matrix(gguf, "position_embd.weight", c.maxTokens(), d);
        float[] types = gguf.tensorInfo("token_types.weight").isPresent()
                ? matrix(gguf, "token_types.weight", -1, d).row(0).toFloatArray() : new float[d];
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            layers.add(new Layer(
                    matrix(gguf, p + "attn_q.weight", d, d), vector(gguf, p + "attn_q.bias", d),
                    matrix(gguf, p + "attn_k.weight", d, d), vector(gguf, p + "attn_k.bias", d),
                    matrix(gguf, p + "attn_v.weight", d, d), vector(gguf, p + "attn_v.bias", d),
                    matrix(gguf, p + "attn_output.weight", d, d), vector(gguf, p + "attn_output.bias", d),
                    vector(gguf, p + "attn_output_norm.weight", d), vector(gguf, p + "attn_output_norm.bias", d),
                    matrix(gguf, p + "ffn_up.weight", c.ffnDim(), d), vector(gguf, p + "ffn_up.bias", c.ffnDim()),
                    matrix(gguf, p + "ffn_down.weight", d, c.ffnDim()), vector(gguf, p + "ffn_down.bias", d),
                    vector(gguf, p + "layer_output_norm.weight", d), vector(gguf, p + "layer_output_norm.bias", d)));
        }
        MlmHead mlm = null;
        if (gguf.tensorInfo("mlm.dense.weight").isPresent()) {
            mlm = new MlmHead(matrix(gguf, "mlm.dense.weight", d, d), vector(gguf, "mlm.dense.bias", d),
                    vector(gguf, "mlm.norm.weight", d), vector(gguf, "mlm.norm.bias", d),
                    vector(gguf, "mlm.decoder.bias", tok.dim(0)));
        }
        return new EncoderWeights(tok, pos, types, vector(gguf, "token_embd_norm.weight", d),
                vector(gguf, "token_embd_norm.bias", d), List.copyOf(layers), mlm);
    }

    private static GgufTensorInfo info(GgufFile gguf, String name) {
        return gguf.tensorInfo(name).orElseThrow(() -> new ModelLoadException("the encoder has no tensor '" + name + "'"));
    }

    private static Tensor matrix(GgufFile gguf, String name, long rows, long cols) {
        long[] shape = info(gguf, name).shape();
        if (shape.length != 2 || shape[1] != cols || (rows >= 0 && shape[0] < rows)) {
            throw new ModelLoadException("tensor '" + name + "' has shape " + Arrays.toString(shape) + ", expected ["
                    + (rows < 0 ? "*" : rows) + ", " + cols + "]");
        }
        Tensor t = gguf.tensor(name);
        t.format();
        return t;
    }

    private static float[] vector(GgufFile gguf, String name, long n) {
        GgufTensorInfo i = info(gguf, name);
        if (i.elementCount() != n) {
            throw new ModelLoadException("tensor '" + name + "' has " + i.elementCount() + " elements, expected " + n);
        }
        return gguf.tensor(name).toFloatArray();
    }
}
