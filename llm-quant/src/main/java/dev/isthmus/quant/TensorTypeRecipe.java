package dev.isthmus.quant;

import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.tensor.GgmlType;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which type each tensor gets: llama.cpp's {@code llama_tensor_get_type} for the file types in
 * {@link QuantizationType}, without an importance matrix. Stateful in the same way (counters of
 * attention-V and FFN-down tensors seen so far), so tensors must be asked in file-writing order.
 */
final class TensorTypeRecipe {
    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    enum Category { OUTPUT, TOKEN_EMBD, ATTENTION_QKV, ATTENTION_KV_B, ATTENTION_V, ATTENTION_K, ATTENTION_Q,
        ATTENTION_OUTPUT, FFN_UP, FFN_GATE, FFN_DOWN, OTHER }

    /** A decision: the type, and the reason when a shape forced a fallback. */
    record Choice(GgmlType type, String fallback) {
    }

    private final QuantizationType ftype;
    private final String arch;
    private final int nLayer;
    private final int nGqa;
    private final int nExpert;
    private final boolean is70B;
    private final boolean tiedEmbeddings;
    private final int nAttentionWv;
    private int iAttentionWv;
    private int iFfnDown;
    private int fallbacks;

    TensorTypeRecipe(QuantizationType ftype, Map<String, GgufValue> file, List<GgufTensorInfo> tensors) {
        this.ftype = ftype;
        GgufValue archValue = file.get("general.architecture");
        this.arch = archValue == null ? "" : (String) archValue.value();
        this.nLayer = (int) intValue(file, arch + ".block_count", 0);
        long nHead = intValue(file, arch + ".attention.head_count", 0);
        long nHeadKv = intValue(file, arch + ".attention.head_count_kv", nHead);
        this.nGqa = nHeadKv == 0 ? 0 : (int) (nHead / nHeadKv);
        this.nExpert = (int) intValue(file, arch + ".expert_count", 0);
        this.is70B = arch.equals("llama") && nLayer == 80 && nHead != nHeadKv;
        int wv = 0;
        boolean tied = true;
        for (GgufTensorInfo t : tensors) {
            Category c = category(t.name());
            if (c == Category.ATTENTION_V || c == Category.ATTENTION_QKV || c == Category.ATTENTION_KV_B) {
                wv++;
            }
            if (c == Category.OUTPUT) {
                tied = false;
            }
        }
        this.nAttentionWv = wv;
        this.tiedEmbeddings = tied;
    }

    /** Integer metadata, taking the first element of a per-layer array. */
    private static long intValue(Map<String, GgufValue> file, String key, long fallback) {
        GgufValue v = file.get(key);
        return v == null ? fallback : firstLong(v);
    }

    private static long firstLong(GgufValue v) {
        if (v.value() instanceof dev.isthmus.core.gguf.GgufArray a) {
            return a.size() == 0 ? 0 : ((Number) a.get(0)).longValue();
        }
        return v.asLong();
    }

    int fallbacks() {
        return fallbacks;
    }

    static Category category(String name) {
        if (name.equals("output.weight")) {
            return Category.OUTPUT;
        }
        if (name.equals("token_embd.weight") || name.equals("per_layer_token_embd.weight")) {
            return Category.TOKEN_EMBD;
        }
        if (name.contains("attn_qkv.weight")) {
            return Category.ATTENTION_QKV;
        }
        if (name.contains("attn_kv_b.weight")) {
            return Category.ATTENTION_KV_B;
        }
        if (name.contains("attn_v.weight")) {
            return Category.ATTENTION_V;
        }
        if (name.contains("attn_k.weight")) {
            return Category.ATTENTION_K;
        }
        if (name.contains("attn_q.weight")) {
            return Category.ATTENTION_Q;
        }
        if (name.contains("attn_output.weight")) {
            return Category.ATTENTION_OUTPUT;
        }
        if (name.contains("ffn_up")) {
            return Category.FFN_UP;
        }
        if (name.contains("ffn_gate")) {
            return Category.FFN_GATE;
        }
        if (name.contains("ffn_down")) {
            return Category.FFN_DOWN;
        }
        return Category.OTHER;
    }

    /** Dimensions that count: GGUF dims without trailing ones ({@code ggml_n_dims}). */
    static int effectiveDims(long[] ggufDims) {
        int n = ggufDims.length;
        while (n > 1 && ggufDims[n - 1] == 1) {
            n--;
        }
        return n;
    }

    /** {@code tensor_allows_quantization} with llama.cpp's default parameters. */
    static boolean allowsQuantization(GgufTensorInfo t) {
        if (effectiveDims(t.ggufDims()) < 2) {
            return false;
        }
        String name = t.name();
        if (!name.endsWith("weight") || name.contains("_norm.weight")) {
            return false;
        }
        for (String excluded : new String[] {"ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
                "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
                "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
                "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
                "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
                "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
                "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
                "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"}) {
            if (name.contains(excluded)) {
                return false;
            }
        }
        return !name.equals("position_embd.weight") && !name.equals("token_types.weight");
    }

    /** The type for {@code t}; call once per tensor, in output order. */
    Choice choose(GgufTensorInfo t) {
        if (!allowsQuantization(t)) {
            return new Choice(t.type(), null);
        }
        GgmlType type = ftype.baseType();
        if (!type.isQuantized()) {
            return new Choice(type, null);
        }
        type = mix(t, type);
        long ncols = t.ggufDims()[0];
        if (ncols % type.blockSize() == 0) {
            return new Choice(type, null);
        }
        fallbacks++;
        GgmlType fallback = switch (type) {
            case IQ4_XS -> GgmlType.IQ4_NL;
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> type;
        };
        if (ncols % fallback.blockSize() != 0) {
            fallback = GgmlType.F16;
        }
        return new Choice(fallback, t.name() + ": " + ncols + " columns are not a multiple of " + type.blockSize()
                + " (" + type + "), using " + fallback);
    }

    private static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    /** {@code llama_tensor_get_type_impl}, restricted to the file types this module writes. */
    private GgmlType mix(GgufTensorInfo t, GgmlType type) {
        Category category = category(t.name());
        boolean falcon = arch.equals("falcon");
        if (category == Category.OUTPUT || (tiedEmbeddings && category == Category.TOKEN_EMBD)) {
            long nx = t.ggufDims()[0];
            if (falcon || nx % type.blockSize() != 0) {
                return GgmlType.Q8_0;
            }
            return type != GgmlType.Q8_0 ? GgmlType.Q6_K : type;
        }
        if (category == Category.TOKEN_EMBD) {
            return type;
        }
        if (category == Category.ATTENTION_V || category == Category.ATTENTION_QKV
                || category == Category.ATTENTION_KV_B) {
            switch (ftype) {
                case Q2_K -> type = nGqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                case Q3_K_M -> type = iAttentionWv < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> type = GgmlType.Q5_K;
                case IQ4_NL, IQ4_XS -> {
                    if (nGqa >= 4) {
                        type = GgmlType.Q5_K;
                    }
                }
                case Q4_K_M, Q5_K_M -> {
                    if (useMoreBits(iAttentionWv, nAttentionWv)) {
                        type = GgmlType.Q6_K;
                    }
                }
                case Q4_K_S -> {
                    if (iAttentionWv < 4) {
                        type = GgmlType.Q5_K;
                    }
                }
                default -> {
                }
            }
            if (is70B && (type == GgmlType.Q3_K || type == GgmlType.Q4_K)) {
                type = GgmlType.Q5_K;
            }
            if (nExpert == 8) {
                type = GgmlType.Q8_0;
            }
            iAttentionWv++;
            return type;
        }
        if (category == Category.ATTENTION_K) {
            return nExpert == 8 ? GgmlType.Q8_0 : type;
        }
        if (category == Category.FFN_DOWN) {
            int iLayer = iFfnDown;
            int n = nLayer;
            if (nExpert > 1) {
                Matcher m = LAYER.matcher(t.name());
                if (!m.find()) {
                    throw new IllegalArgumentException("cannot find the layer of tensor " + t.name());
                }
                iLayer = Integer.parseInt(m.group(1));
            }
            switch (ftype) {
                case Q2_K -> type = GgmlType.Q3_K;
                case Q3_K_M -> type = iLayer < n / 16 ? GgmlType.Q5_K
                        : !falcon || useMoreBits(iLayer, n) ? GgmlType.Q4_K : GgmlType.Q3_K;
                case Q3_K_L -> type = falcon ? GgmlType.Q4_K : GgmlType.Q5_K;
                case Q4_K_M -> {
                    if (falcon) {
                        type = iLayer < n / 16 ? GgmlType.Q6_K : useMoreBits(iLayer, n) ? GgmlType.Q5_K : GgmlType.Q4_K;
                    } else if (useMoreBits(iLayer, n)) {
                        type = GgmlType.Q6_K;
                    }
                }
                case IQ4_NL, IQ4_XS -> {
                    if (iLayer < n / 8) {
                        type = GgmlType.Q5_K;
                    }
                }
                case Q5_K_M -> {
                    if (useMoreBits(iLayer, n)) {
                        type = GgmlType.Q6_K;
                    }
                }
                case Q4_K_S -> {
                    if (!falcon && iLayer < n / 8) {
                        type = GgmlType.Q5_K;
                    }
                }
                default -> {
                }
            }
            iFfnDown++;
            return type;
        }
        if (category == Category.ATTENTION_OUTPUT) {
            if (!falcon) {
                if (nExpert == 8) {
                    if (ftype == QuantizationType.Q2_K || ftype == QuantizationType.Q3_K_S
                            || ftype == QuantizationType.Q3_K_M || ftype == QuantizationType.IQ4_NL
                            || ftype == QuantizationType.Q4_K_S || ftype == QuantizationType.Q4_K_M
                            || ftype == QuantizationType.IQ4_XS) {
                        type = GgmlType.Q5_K;
                    }
                } else {
                    switch (ftype) {
                        case Q2_K -> type = GgmlType.Q3_K;
                        case Q3_K_M -> type = GgmlType.Q4_K;
                        case Q3_K_L -> type = GgmlType.Q5_K;
                        default -> {
                        }
                    }
                }
            } else if (ftype == QuantizationType.Q3_K_L) {
                type = GgmlType.Q4_K;
            }
        }
        return type;
    }
}
