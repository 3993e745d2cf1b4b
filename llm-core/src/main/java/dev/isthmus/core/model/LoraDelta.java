package dev.isthmus.core.model;

import dev.isthmus.core.adapter.LoraAdapter;
import dev.isthmus.core.adapter.LoraMerger;
import dev.isthmus.core.backend.cpu.CpuOps;
import dev.isthmus.core.backend.cpu.Rope;
import dev.isthmus.core.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * A LoRA adapter attached to one model: shapes checked against the model's projections, and B's q/k rows
 * put in the model's rotary layout (GGUF Llama files store q/k rows with adjacent rotary pairs, PEFT adapters
 * are trained on Hugging Face's half-split layout).
 */
final class LoraDelta {
    private final Map<String, LoraAdapter.Pair> pairs;
    private final float scale;

    private LoraDelta(Map<String, LoraAdapter.Pair> pairs, float scale) {
        this.pairs = pairs;
        this.scale = scale;
    }

    static LoraDelta attach(LoraAdapter adapter, DecoderModel model) {
        ModelConfig c = model.config();
        Map<String, LoraAdapter.Pair> fitted = new HashMap<>();
        for (LoraAdapter.Pair p : adapter.pairs().values()) {
            Tensor w = model.projection(p.layer(), p.role());
            if (w == null) {
                throw new ModelLoadException("adapter adapts " + p.role() + " of layer " + p.layer()
                        + ", which this model does not have as a separate projection");
            }
            if (w.dim(0) != p.out() || w.dim(1) != p.in()) {
                throw new ModelLoadException("adapter for " + p.role() + " of layer " + p.layer() + " is " + p.out() + "×"
                        + p.in() + " but the model's projection is " + w.dim(0) + "×" + w.dim(1));
            }
            float[] b = p.b();
            if (c.ropeStyle() == Rope.Style.NORMAL && (p.role().equals("attn_q") || p.role().equals("attn_k"))) {
                b = LoraMerger.adjacentPairs(b, p.out(), p.rank(), p.role().equals("attn_q") ? c.heads() : c.kvHeads());
            }
            fitted.put(p.layer() + "." + p.role(), new LoraAdapter.Pair(p.layer(), p.role(), p.rank(), p.in(), p.out(),
                    p.a(), b));
        }
        return new LoraDelta(Map.copyOf(fitted), adapter.effectiveScale());
    }

    /** {@code out[t] += scale · B (A in[t])} for each of the {@code n} batch entries, if this adapter covers the role. */
    void apply(int layer, String role, float[] in, int cols, float[] out, int rows, int n) {
        LoraAdapter.Pair p = pairs.get(layer + "." + role);
        if (p == null || scale == 0f) {
            return;
        }
        float[] mid = new float[p.rank()];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < p.rank(); r++) {
                mid[r] = CpuOps.dot(p.a(), r * cols, in, t * cols, cols) * scale;
            }
            for (int o = 0; o < rows; o++) {
                out[t * rows + o] += CpuOps.dot(p.b(), o * p.rank(), mid, 0, p.rank());
            }
        }
    }
}
