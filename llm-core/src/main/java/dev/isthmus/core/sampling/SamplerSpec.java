package dev.isthmus.core.sampling;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * An immutable description of how to pick the next token, composed like llama.cpp's sampler chain:
 * logit bias → repetition/frequency/presence penalties → top-k → top-p → min-p → temperature → draw.
 * Temperature 0 means greedy. Build one with {@link Samplers}; each generation gets its own
 * {@link TokenSampler} (and random generator) from {@link #newSampler()}, so a spec can be shared by threads.
 *
 * <pre>{@code
 * SamplerSpec spec = Samplers.topP(0.95f).temperature(0.7f).repetitionPenalty(1.1f).seed(42);
 * }</pre>
 *
 * @param temperature        0 for greedy; otherwise logits are divided by it
 * @param topK               keep the k most likely tokens (0 = off)
 * @param topP               keep the smallest set whose probability reaches p (1 = off)
 * @param minP               drop tokens below minP × the top probability (0 = off)
 * @param repetitionPenalty  divide positive / multiply negative logits of recent tokens (1 = off)
 * @param frequencyPenalty   subtract count × this from recent tokens' logits (0 = off)
 * @param presencePenalty    subtract this once from every recent token's logit (0 = off)
 * @param penaltyWindow      how many recent tokens the penalties look at (-1 = all, 0 = none)
 * @param logitBias          added to the logits of the given token ids
 * @param seed               fixed seed for reproducible draws, or empty for a random one
 */
public record SamplerSpec(float temperature, int topK, float topP, float minP, float repetitionPenalty,
                          float frequencyPenalty, float presencePenalty, int penaltyWindow,
                          Map<Integer, Float> logitBias, OptionalLong seed) {

    public SamplerSpec {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be ≥ 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1], got " + minP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetitionPenalty must be finite and > 0, got " + repetitionPenalty);
        }
        if (!Float.isFinite(frequencyPenalty) || !Float.isFinite(presencePenalty)) {
            throw new IllegalArgumentException("frequency and presence penalties must be finite");
        }
        if (penaltyWindow < -1) {
            throw new IllegalArgumentException("penaltyWindow must be ≥ -1 (-1 = whole history), got " + penaltyWindow);
        }
        logitBias = Map.copyOf(logitBias);
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() < 0 || Float.isNaN(e.getValue())) {
                throw new IllegalArgumentException("invalid logit bias " + e);
            }
        }
    }

    /** Greedy: always the most likely token. */
    static final SamplerSpec GREEDY = new SamplerSpec(0f, 0, 1f, 0f, 1f, 0f, 0f, 64, Map.of(), OptionalLong.empty());

    public boolean isGreedy() {
        return temperature == 0f;
    }

    public SamplerSpec temperature(float t) {
        return new SamplerSpec(t, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec topK(int k) {
        return new SamplerSpec(temperature, k, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec topP(float p) {
        return new SamplerSpec(temperature, topK, p, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec minP(float p) {
        return new SamplerSpec(temperature, topK, topP, p, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec repetitionPenalty(float penalty) {
        return new SamplerSpec(temperature, topK, topP, minP, penalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec frequencyPenalty(float penalty) {
        return new SamplerSpec(temperature, topK, topP, minP, repetitionPenalty, penalty, presencePenalty,
                penaltyWindow, logitBias, seed);
    }

    public SamplerSpec presencePenalty(float penalty) {
        return new SamplerSpec(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, penalty,
                penaltyWindow, logitBias, seed);
    }

    /** Tokens the penalties consider: the last {@code n} (-1 = the whole history). Default 64, as llama.cpp. */
    public SamplerSpec penaltyWindow(int n) {
        return new SamplerSpec(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                n, logitBias, seed);
    }

    /** Adds {@code bias} to token {@code id}'s logit ({@code Float.NEGATIVE_INFINITY} bans it). */
    public SamplerSpec logitBias(int id, float bias) {
        Map<Integer, Float> m = new HashMap<>(logitBias);
        m.put(id, bias);
        return new SamplerSpec(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, m, seed);
    }

    /** Fixes the random seed: the same seed, prompt and model give the same text. */
    public SamplerSpec seed(long s) {
        return new SamplerSpec(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
                penaltyWindow, logitBias, OptionalLong.of(s));
    }

    /** A fresh stateful sampler for one generation. */
    public TokenSampler newSampler() {
        return new TokenSampler(this);
    }
}
