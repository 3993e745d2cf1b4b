package dev.isthmus.core.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.gguf.GgufArray;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufValueType;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.gguf.LlamaFileType;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Converts a BERT sentence-transformers ONNX export (as Hugging Face Optimum or torch.onnx write it) and
 * its WordPiece {@code tokenizer.json} into a GGUF that {@code Llm.encoder()} loads, with llama.cpp's
 * BERT tensor names and vocabulary conventions.
 *
 * <pre>{@code
 * BertOnnxImporter.convert(Path.of("model.onnx"), Path.of("tokenizer.json"), Path.of("model.gguf"),
 *         GgmlType.F16, "all-MiniLM-L6-v2");
 * }</pre>
 */
public final class BertOnnxImporter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BertOnnxImporter() {
    }

    /**
     * Writes {@code out}. Matrices are stored as {@code matrixType} (F32, F16, BF16 or Q8_0); position and
     * token-type embeddings, norms and biases stay F32, as llama.cpp's converter keeps them.
     *
     * @throws OnnxFormatException if the graph is not a BERT encoder the importer understands
     */
    public static void convert(Path onnx, Path tokenizerJson, Path out, GgmlType matrixType, String name)
            throws IOException {
        BlockFormat matrixFormat = BlockFormats.require(matrixType, "the imported matrices");
        if (!matrixFormat.canQuantize()) {
            throw new IllegalArgumentException(matrixType + " has no encoder");
        }
        JsonNode tokenizer = JSON.readTree(Files.readString(tokenizerJson));
        try (OnnxGraph g = OnnxGraph.open(onnx); Arena arena = Arena.ofConfined()) {
            Names n = Names.detect(g);
            OnnxGraph.Initializer words = n.require("embeddings.word_embeddings.weight");
            int vocab = (int) words.dims()[0];
            int dim = (int) words.dims()[1];
            OnnxGraph.Initializer positions = n.require("embeddings.position_embeddings.weight");
            int layers = 0;
            while (n.find("encoder.layer." + layers + ".attention.self.query.bias").isPresent()) {
                layers++;
            }
            if (layers == 0) {
                throw new OnnxFormatException("no encoder.layer.0.* weights: not a BERT encoder export");
            }
            OnnxGraph.Initializer up0 = n.require("encoder.layer.0.intermediate.dense.bias");
            int ffn = (int) up0.dims()[0];
            int heads = n.heads(dim);
            GgufWriter w = GgufWriter.create();
            w.put("general.architecture", GgufValue.string("bert"));
            w.put("general.name", GgufValue.string(name));
            w.put("general.alignment", GgufValue.uint32(32));
            w.put("general.file_type", GgufValue.uint32(LlamaFileType.of(matrixType)));
            w.put("bert.context_length", GgufValue.uint32(positions.dims()[0]));
            w.put("bert.embedding_length", GgufValue.uint32(dim));
            w.put("bert.feed_forward_length", GgufValue.uint32(ffn));
            w.put("bert.block_count", GgufValue.uint32(layers));
            w.put("bert.attention.head_count", GgufValue.uint32(heads));
            w.put("bert.attention.layer_norm_epsilon", GgufValue.float32(n.epsilon()));
            w.put("bert.attention.causal", GgufValue.bool(false));
            w.put("bert.pooling_type", GgufValue.uint32(1));
            vocabulary(w, tokenizer, vocab);
            Writer t = new Writer(w, arena, matrixType);
            t.matrix("token_embd.weight", words.floats(), vocab, dim, true);
            t.matrix("position_embd.weight", positions.floats(), (int) positions.dims()[0], dim, false);
            OnnxGraph.Initializer types = n.require("embeddings.token_type_embeddings.weight");
            t.matrix("token_types.weight", types.floats(), (int) types.dims()[0], dim, false);
            t.vector("token_embd_norm.weight", n.require("embeddings.LayerNorm.weight"));
            t.vector("token_embd_norm.bias", n.require("embeddings.LayerNorm.bias"));
            for (int i = 0; i < layers; i++) {
                String p = "encoder.layer." + i + ".";
                String g2 = "blk." + i + ".";
                t.linear(g2 + "attn_q", n, p + "attention.self.query", dim, dim);
                t.linear(g2 + "attn_k", n, p + "attention.self.key", dim, dim);
                t.linear(g2 + "attn_v", n, p + "attention.self.value", dim, dim);
                t.linear(g2 + "attn_output", n, p + "attention.output.dense", dim, dim);
                t.vector(g2 + "attn_output_norm.weight", n.require(p + "attention.output.LayerNorm.weight"));
                t.vector(g2 + "attn_output_norm.bias", n.require(p + "attention.output.LayerNorm.bias"));
                t.linear(g2 + "ffn_up", n, p + "intermediate.dense", ffn, dim);
                t.linear(g2 + "ffn_down", n, p + "output.dense", dim, ffn);
                t.vector(g2 + "layer_output_norm.weight", n.require(p + "output.LayerNorm.weight"));
                t.vector(g2 + "layer_output_norm.bias", n.require(p + "output.LayerNorm.bias"));
            }
            w.write(out);
        }
    }

    /** WordPiece vocabulary in llama.cpp's form: words get the "▁" prefix, "##" continuations lose it. */
    private static void vocabulary(GgufWriter w, JsonNode tokenizer, int vocabSize) {
        JsonNode model = tokenizer.path("model");
        if (!"WordPiece".equals(model.path("type").asText())) {
            throw new OnnxFormatException("tokenizer.json model type '" + model.path("type").asText()
                    + "' is not WordPiece; the BERT importer needs a WordPiece vocabulary");
        }
        String[] tokens = new String[vocabSize];
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0 || id >= vocabSize) {
                throw new OnnxFormatException("tokenizer.json token '" + e.getKey() + "' has id " + id
                        + " outside the model's " + vocabSize + " embeddings");
            }
            tokens[id] = e.getKey();
        }
        Set<String> special = new HashSet<>();
        for (JsonNode added : tokenizer.path("added_tokens")) {
            if (added.path("special").asBoolean()) {
                special.add(added.path("content").asText());
            }
        }
        String[] gguf = new String[vocabSize];
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            String t = tokens[i] == null ? "[unused" + i + "]" : tokens[i];
            if (t.startsWith("[") && t.endsWith("]")) {
                gguf[i] = t;
            } else if (t.startsWith("##")) {
                gguf[i] = t.substring(2);
            } else {
                gguf[i] = "\u2581" + t;
            }
            types[i] = special.contains(t) ? 3 : 1;
        }
        w.put("tokenizer.ggml.model", GgufValue.string("bert"));
        w.put("tokenizer.ggml.token_type_count", GgufValue.uint32(2));
        w.put("tokenizer.ggml.tokens", GgufValue.array(new GgufArray(GgufValueType.STRING, gguf)));
        w.put("tokenizer.ggml.token_type", GgufValue.array(new GgufArray(GgufValueType.INT32, types)));
        putId(w, "tokenizer.ggml.unknown_token_id", tokens, "[UNK]");
        putId(w, "tokenizer.ggml.seperator_token_id", tokens, "[SEP]");
        putId(w, "tokenizer.ggml.padding_token_id", tokens, "[PAD]");
        putId(w, "tokenizer.ggml.cls_token_id", tokens, "[CLS]");
        putId(w, "tokenizer.ggml.mask_token_id", tokens, "[MASK]");
        w.put("tokenizer.ggml.add_bos_token", GgufValue.bool(true));
        w.put("tokenizer.ggml.add_eos_token", GgufValue.bool(true));
    }

    private static void putId(GgufWriter w, String key, String[] tokens, String token) {
        for (int i = 0; i < tokens.length; i++) {
            if (token.equals(tokens[i])) {
                w.put(key, GgufValue.uint32(i));
                return;
            }
        }
        throw new OnnxFormatException("the vocabulary has no " + token + " token");
    }

    /** Resolves weight names in the two layouts exporters produce, with or without a "bert." prefix. */
    private record Names(OnnxGraph graph, String prefix, String nodePrefix) {
        static Names detect(OnnxGraph g) {
            for (String p : new String[] {"", "bert.", "model."}) {
                if (g.initializer(p + "embeddings.word_embeddings.weight").isPresent()) {
                    return new Names(g, p, p.isEmpty() ? "" : "/" + p.substring(0, p.length() - 1));
                }
            }
            throw new OnnxFormatException("no embeddings.word_embeddings.weight initializer: not a BERT export "
                    + "(unsupported graph)");
        }

        Optional<OnnxGraph.Initializer> find(String name) {
            return graph.initializer(prefix + name);
        }

        OnnxGraph.Initializer require(String name) {
            return find(name).orElseThrow(() -> new OnnxFormatException("missing initializer '" + prefix + name + "'"));
        }

        /**
         * The weight of a dense layer as [out, in]: either a named {@code .weight} initializer (torch layout), or
         * the anonymous right-hand side of the layer's MatMul node ([in, out], transposed here).
         */
        float[] dense(String layer, int outDim, int inDim) {
            Optional<OnnxGraph.Initializer> named = find(layer + ".weight");
            if (named.isPresent()) {
                checkDims(named.get(), outDim, inDim);
                return named.get().floats();
            }
            String node = nodePrefix + "/" + layer.replace("encoder.layer.", "encoder/layer.").replace('.', '/')
                    .replace("layer/", "layer.") + "/MatMul";
            for (OnnxGraph.Node n : graph.nodes()) {
                if (n.opType().equals("MatMul") && n.name().equals(node) && n.inputs().size() == 2) {
                    OnnxGraph.Initializer w = graph.initializer(n.inputs().get(1)).orElseThrow(() ->
                            new OnnxFormatException("MatMul " + node + " has no weight initializer"));
                    checkDims(w, inDim, outDim);
                    float[] in = w.floats();
                    float[] t = new float[in.length];
                    for (int r = 0; r < inDim; r++) {
                        for (int c = 0; c < outDim; c++) {
                            t[c * inDim + r] = in[r * outDim + c];
                        }
                    }
                    return t;
                }
            }
            throw new OnnxFormatException("no weight for " + prefix + layer + " (neither '" + prefix + layer
                    + ".weight' nor a MatMul node '" + node + "')");
        }

        private static void checkDims(OnnxGraph.Initializer w, long a, long b) {
            if (w.dims().length != 2 || w.dims()[0] != a || w.dims()[1] != b) {
                throw new OnnxFormatException("weight '" + w.name() + "' has dims " + java.util.Arrays.toString(w.dims())
                        + ", expected [" + a + ", " + b + "]");
            }
        }

        /** Attention heads, from the constants the first layer reshapes queries with, or sqrt(head size) it divides by. */
        int heads(int dim) {
            String self = nodePrefix + "/encoder/layer.0/attention/self/";
            for (OnnxGraph.Node n : graph.nodes()) {
                if (n.opType().equals("Concat") && n.name().startsWith(self) && n.inputs().size() == 4) {
                    Optional<double[]> h = graph.constant(n.inputs().get(2));
                    Optional<double[]> hd = graph.constant(n.inputs().get(3));
                    if (h.isPresent() && hd.isPresent() && h.get().length == 1 && hd.get().length == 1
                            && h.get()[0] * hd.get()[0] == dim) {
                        return (int) h.get()[0];
                    }
                }
            }
            for (OnnxGraph.Node n : graph.nodes()) {
                if (n.opType().equals("Div") && n.name().startsWith(self) && n.inputs().size() == 2) {
                    Optional<double[]> c = graph.constant(n.inputs().get(1));
                    if (c.isPresent() && c.get().length == 1) {
                        long headDim = Math.round(c.get()[0] * c.get()[0]);
                        if (headDim > 0 && dim % headDim == 0) {
                            return (int) (dim / headDim);
                        }
                    }
                }
            }
            throw new OnnxFormatException("cannot infer the number of attention heads from the graph");
        }

        /** LayerNorm epsilon: the constant added to the variance in the embeddings' (decomposed) LayerNorm. */
        float epsilon() {
            String add = nodePrefix + "/embeddings/LayerNorm/Add";
            for (OnnxGraph.Node n : graph.nodes()) {
                if (n.name().equals(add) && n.opType().equals("Add")) {
                    for (String in : n.inputs()) {
                        Optional<double[]> c = graph.constant(in);
                        if (c.isPresent() && c.get().length == 1 && c.get()[0] > 0 && c.get()[0] < 1e-3) {
                            return (float) c.get()[0];
                        }
                    }
                }
            }
            return 1e-12f;
        }
    }

    /** Adds tensors to the writer in GGUF's dims order (innermost first). */
    private record Writer(GgufWriter w, Arena arena, GgmlType matrixType) {
        void matrix(String name, float[] values, int rows, int cols, boolean quantizable) {
            GgmlType type = quantizable && cols % matrixType.blockSize() == 0 ? matrixType : GgmlType.F32;
            BlockFormat f = BlockFormats.require(type);
            MemorySegment data = arena.allocate(type.byteSize((long) rows * cols), 64);
            long rowBytes = type.byteSize(cols);
            for (int r = 0; r < rows; r++) {
                f.quantize(values, r * cols, data, r * rowBytes, cols);
            }
            w.addTensor(name, type, new long[] {cols, rows}, data);
        }

        void vector(String name, OnnxGraph.Initializer init) {
            float[] v = init.floats();
            MemorySegment data = arena.allocate(4L * v.length, 64);
            BlockFormats.require(GgmlType.F32).quantize(v, 0, data, 0, v.length);
            w.addTensor(name, GgmlType.F32, new long[] {v.length}, data);
        }

        void linear(String ggufName, Names n, String layer, int out, int in) {
            matrix(ggufName + ".weight", n.dense(layer, out, in), out, in, true);
            vector(ggufName + ".bias", n.require(layer + ".bias"));
        }
    }
}
