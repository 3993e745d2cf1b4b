package dev.isthmus.core.adapter;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.gguf.ModelMetadata;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Folds a LoRA adapter into a GGUF model's weights ({@code W + scale · B·A}) and writes a new GGUF, so the
 * adapted model runs with no per-token adapter cost. Adapted tensors keep their storage type when it can be
 * re-encoded (F32, F16, BF16, Q8_0 and llm-quant's formats); other tensors are copied byte for byte.
 *
 * <pre>{@code
 * LoraMerger.merge(Path.of("base.gguf"), LoraAdapter.load(Path.of("my-lora")), Path.of("merged.gguf"));
 * }</pre>
 */
public final class LoraMerger {
    private static final Pattern LAYER_ROLE = Pattern.compile("blk\\.(\\d+)\\.(\\w+)\\.weight");

    private LoraMerger() {
    }

    public static void merge(Path base, LoraAdapter adapter, Path out) throws IOException {
        try (GgufFile g = GgufFile.open(base); Arena arena = Arena.ofConfined()) {
            ModelMetadata m = g.modelMetadata();
            boolean adjacentRotary = m.architecture().equals("llama") || m.architecture().equals("mistral");
            GgufWriter w = GgufWriter.create();
            g.values().forEach(w::put);
            int used = 0;
            for (GgufTensorInfo info : g.tensors()) {
                Matcher match = LAYER_ROLE.matcher(info.name());
                LoraAdapter.Pair pair = match.matches()
                        ? adapter.pair(Integer.parseInt(match.group(1)), match.group(2)).orElse(null) : null;
                if (pair == null) {
                    w.addTensor(info.name(), info.type(), info.ggufDims(), g.tensorData(info.name()));
                    continue;
                }
                long[] shape = info.shape();
                int rows = (int) shape[0];
                int cols = (int) shape[1];
                if (pair.out() != rows || pair.in() != cols) {
                    throw new IllegalArgumentException("adapter for " + info.name() + " is " + pair.out() + "×" + pair.in()
                            + " but the tensor is " + rows + "×" + cols);
                }
                float[] b = pair.b();
                if (adjacentRotary && (pair.role().equals("attn_q") || pair.role().equals("attn_k"))) {
                    int heads = pair.role().equals("attn_q") ? m.headCount() : m.headCountKv();
                    b = adjacentPairs(b, rows, pair.rank(), heads);
                }
                float[] weights = g.tensor(info.name()).toFloatArray();
                float s = adapter.effectiveScale();
                for (int o = 0; o < rows; o++) {
                    for (int k = 0; k < pair.rank(); k++) {
                        float bk = s * b[o * pair.rank() + k];
                        int aRow = k * cols;
                        for (int i = 0; i < cols; i++) {
                            weights[o * cols + i] += bk * pair.a()[aRow + i];
                        }
                    }
                }
                GgmlType type = BlockFormats.find(info.type()).filter(BlockFormat::canQuantize).isPresent()
                        ? info.type() : GgmlType.F32;
                BlockFormat f = BlockFormats.require(type);
                MemorySegment data = arena.allocate(type.byteSize((long) rows * cols), 64);
                long rowBytes = type.byteSize(cols);
                for (int r = 0; r < rows; r++) {
                    f.quantize(weights, r * cols, data, r * rowBytes, cols);
                }
                w.addTensor(info.name(), type, info.ggufDims(), data);
                used++;
            }
            if (used != adapter.pairs().size()) {
                throw new IllegalArgumentException("adapter has " + adapter.pairs().size() + " projections but only "
                        + used + " match tensors of " + base);
            }
            w.write(out);
        }
    }

    /** Half-split rotary rows (Hugging Face) to adjacent pairs (GGUF Llama). */
    public static float[] adjacentPairs(float[] b, int rows, int cols, int heads) {
        int hd = rows / heads;
        float[] out = new float[b.length];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hd / 2; j++) {
                for (int a = 0; a < 2; a++) {
                    System.arraycopy(b, (h * hd + a * (hd / 2) + j) * cols, out, (h * hd + 2 * j + a) * cols, cols);
                }
            }
        }
        return out;
    }
}
