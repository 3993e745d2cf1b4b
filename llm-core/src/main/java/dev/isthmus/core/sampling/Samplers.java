package dev.isthmus.core.sampling;

/**
 * Entry points for {@link SamplerSpec}s.
 *
 * <pre>{@code
 * Samplers.greedy();
 * Samplers.temperature(0.8f).topK(40).seed(7);
 * Samplers.topP(0.95f).temperature(0.7f);
 * }</pre>
 */
public final class Samplers {
    private Samplers() {
    }

    /** Always the most likely token (penalties and logit bias still apply if added). */
    public static SamplerSpec greedy() {
        return SamplerSpec.GREEDY;
    }

    /** Random sampling at temperature {@code t} (no truncation). */
    public static SamplerSpec temperature(float t) {
        return SamplerSpec.GREEDY.temperature(t);
    }

    /** Top-k sampling at temperature 1. */
    public static SamplerSpec topK(int k) {
        return SamplerSpec.GREEDY.temperature(1f).topK(k);
    }

    /** Nucleus sampling at temperature 1. */
    public static SamplerSpec topP(float p) {
        return SamplerSpec.GREEDY.temperature(1f).topP(p);
    }

    /** Min-p sampling at temperature 1. */
    public static SamplerSpec minP(float p) {
        return SamplerSpec.GREEDY.temperature(1f).minP(p);
    }
}
