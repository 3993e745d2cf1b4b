package dev.isthmus.core.model;

import dev.isthmus.core.backend.cpu.Rope;
import java.util.Locale;

/** The decoder families Isthmus runs, keyed by GGUF {@code general.architecture}. */
public enum Family {
    /** Llama 2/3, Mistral, TinyLlama, SmolLM: RMSNorm, adjacent-pair RoPE, SwiGLU. */
    LLAMA(Rope.Style.NORMAL),
    /** Qwen2/2.5: Llama with q/k/v biases and half-split (NeoX) RoPE. */
    QWEN2(Rope.Style.NEOX),
    /** Phi-3: fused qkv and gate-up projections, NeoX RoPE. */
    PHI3(Rope.Style.NEOX),
    /** GPT-2: learned positions, LayerNorm with bias, GELU, fused qkv with bias. */
    GPT2(null);

    private final Rope.Style ropeStyle;

    Family(Rope.Style ropeStyle) {
        this.ropeStyle = ropeStyle;
    }

    /** The RoPE pairing, or null for learned absolute positions. */
    public Rope.Style ropeStyle() {
        return ropeStyle;
    }

    /**
     * The family for a GGUF architecture name.
     *
     * @throws UnsupportedArchitectureException for architectures Isthmus does not run
     */
    public static Family of(String architecture) {
        return switch (architecture.toLowerCase(Locale.ROOT)) {
            case "llama", "mistral" -> LLAMA;
            case "qwen2" -> QWEN2;
            case "phi3" -> PHI3;
            case "gpt2" -> GPT2;
            default -> throw new UnsupportedArchitectureException(architecture);
        };
    }
}
