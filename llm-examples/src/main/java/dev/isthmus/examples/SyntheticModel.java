package dev.isthmus.examples;

import dev.isthmus.core.gguf.GgufArray;
import dev.isthmus.core.gguf.GgufFile;
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
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a random-weight Llama-architecture GGUF of any size, for speed measurements on realistic
 * shapes (the weights' values do not change the work done). The vocabulary is copied from another GGUF.
 */
final class SyntheticModel {
    record Shape(int dim, int ffn, int layers, int heads, int kvHeads, int context) {
    }

    private SyntheticModel() {
    }

    static void write(Path out, Path vocabularySource, Shape s, GgmlType type, long seed) throws IOException {
        BlockFormat format = BlockFormats.require(type, "the synthetic model");
        if (!format.canQuantize()) {
            throw new IllegalArgumentException(type + " has no encoder in the loaded modules");
        }
        try (GgufFile vocab = GgufFile.open(vocabularySource); Arena arena = Arena.ofConfined()) {
            GgufWriter w = GgufWriter.create();
            w.put("general.architecture", GgufValue.string("llama"));
            w.put("general.name", GgufValue.string("isthmus-synthetic-" + s.dim() + "x" + s.layers()));
            w.put("llama.context_length", GgufValue.uint32(s.context()));
            w.put("llama.embedding_length", GgufValue.uint32(s.dim()));
            w.put("llama.block_count", GgufValue.uint32(s.layers()));
            w.put("llama.feed_forward_length", GgufValue.uint32(s.ffn()));
            w.put("llama.rope.dimension_count", GgufValue.uint32(s.dim() / s.heads()));
            w.put("llama.attention.head_count", GgufValue.uint32(s.heads()));
            w.put("llama.attention.head_count_kv", GgufValue.uint32(s.kvHeads()));
            w.put("llama.attention.layer_norm_rms_epsilon", GgufValue.float32(1e-5f));
            w.put("llama.rope.freq_base", GgufValue.float32(10000f));
            for (Map.Entry<String, GgufValue> e : vocab.values().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) {
                    w.put(e.getKey(), e.getValue());
                }
            }
            int vocabSize = ((GgufArray) vocab.value("tokenizer.ggml.tokens").orElseThrow().value()).size();
            SplittableRandom random = new SplittableRandom(seed);
            int kv = s.dim() / s.heads() * s.kvHeads();
            w.addTensor("token_embd.weight", type, new long[] {s.dim(), vocabSize}, matrix(arena, format, vocabSize, s.dim(), random));
            w.addTensor("output_norm.weight", GgmlType.F32, new long[] {s.dim()}, ones(arena, s.dim()));
            w.addTensor("output.weight", type, new long[] {s.dim(), vocabSize}, matrix(arena, format, vocabSize, s.dim(), random));
            for (int l = 0; l < s.layers(); l++) {
                String p = "blk." + l + ".";
                w.addTensor(p + "attn_norm.weight", GgmlType.F32, new long[] {s.dim()}, ones(arena, s.dim()));
                w.addTensor(p + "attn_q.weight", type, new long[] {s.dim(), s.dim()}, matrix(arena, format, s.dim(), s.dim(), random));
                w.addTensor(p + "attn_k.weight", type, new long[] {s.dim(), kv}, matrix(arena, format, kv, s.dim(), random));
                w.addTensor(p + "attn_v.weight", type, new long[] {s.dim(), kv}, matrix(arena, format, kv, s.dim(), random));
                w.addTensor(p + "attn_output.weight", type, new long[] {s.dim(), s.dim()}, matrix(arena, format, s.dim(), s.dim(), random));
                w.addTensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {s.dim()}, ones(arena, s.dim()));
                w.addTensor(p + "ffn_gate.weight", type, new long[] {s.dim(), s.ffn()}, matrix(arena, format, s.ffn(), s.dim(), random));
                w.addTensor(p + "ffn_up.weight", type, new long[] {s.dim(), s.ffn()}, matrix(arena, format, s.ffn(), s.dim(), random));
                w.addTensor(p + "ffn_down.weight", type, new long[] {s.ffn(), s.dim()}, matrix(arena, format, s.dim(), s.ffn(), random));
            }
            w.put("general.file_type", new GgufValue(GgufValueType.UINT32, (long) LlamaFileType.of(type)));
            w.write(out);
        }
    }

    private static MemorySegment ones(Arena arena, int n) {
        MemorySegment m = arena.allocate(4L * n);
        for (int i = 0; i < n; i++) {
            m.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1f);
        }
        return m;
    }

    private static MemorySegment matrix(Arena arena, BlockFormat format, int rows, int cols, SplittableRandom random) {
        MemorySegment m = arena.allocate(format.type().byteSize((long) rows * cols), 64);
        float[] row = new float[cols];
        long rowBytes = format.type().byteSize(cols);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                row[i] = (float) ((random.nextDouble() - 0.5) * 0.08);
            }
            format.quantize(row, 0, m, r * rowBytes, cols);
        }
        return m;
    }
}
