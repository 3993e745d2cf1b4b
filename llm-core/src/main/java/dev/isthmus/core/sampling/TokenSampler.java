package dev.isthmus.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The stateful sampler of one generation: it owns the random generator and scratch arrays (reused for
 * every token) and applies its {@link SamplerSpec}. Not thread-safe; make one per generation.
 */
public final class TokenSampler {
    private final SamplerSpec spec;
    private final SplittableRandom random;
    private int[] order = new int[0];
    private float[] probs = new float[0];

    TokenSampler(SamplerSpec spec) {
        this.spec = spec;
        this.random = spec.seed().isPresent() ? new SplittableRandom(spec.seed().getAsLong()) : new SplittableRandom();
    }

    public SamplerSpec spec() {
        return spec;
    }

    /**
     * Picks the next token. {@code logits} (one per vocabulary entry) are modified in place by bias and
     * penalties; {@code history[0..historyLength)} are the tokens so far (prompt and generated).
     */
    public int sample(float[] logits, int[] history, int historyLength) {
        applyBias(logits);
        applyPenalties(logits, history, historyLength);
        if (spec.isGreedy()) {
            return argmax(logits);
        }
        int n = candidates(logits);
        return draw(n);
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private void applyBias(float[] logits) {
        spec.logitBias().forEach((id, bias) -> {
            if (id < logits.length) {
                logits[id] += bias;
            }
        });
    }

    /** llama.cpp's penalties: each distinct recent token once for repetition/presence, by count for frequency. */
    void applyPenalties(float[] logits, int[] history, int historyLength) {
        if (spec.repetitionPenalty() == 1f && spec.frequencyPenalty() == 0f && spec.presencePenalty() == 0f) {
            return;
        }
        int window = spec.penaltyWindow() < 0 ? historyLength : Math.min(spec.penaltyWindow(), historyLength);
        int from = historyLength - window;
        java.util.HashMap<Integer, Integer> counts = new java.util.HashMap<>();
        for (int i = from; i < historyLength; i++) {
            counts.merge(history[i], 1, Integer::sum);
        }
        counts.forEach((id, count) -> {
            if (id < 0 || id >= logits.length) {
                return;
            }
            float l = logits[id];
            l = l <= 0 ? l * spec.repetitionPenalty() : l / spec.repetitionPenalty();
            l -= count * spec.frequencyPenalty() + spec.presencePenalty();
            logits[id] = l;
        });
    }

    /**
     * Sorts candidates by logit, applies top-k, converts to probabilities, then top-p and min-p, and
     * finally temperature; returns how many candidates remain (in {@code order}, with {@code probs}).
     */
    int candidates(float[] logits) {
        int v = logits.length;
        if (order.length < v) {
            order = new int[v];
            probs = new float[v];
        }
        int k = spec.topK() > 0 ? Math.min(spec.topK(), v) : v;
        int n = sortedTop(logits, k);
        // top-p and min-p on the untempered distribution, as llama.cpp orders its chain.
        softmax(logits, n);
        if (spec.topP() < 1f) {
            double cumulative = 0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cumulative += probs[i];
                if (cumulative >= spec.topP()) {
                    keep = i + 1;
                    break;
                }
            }
            n = Math.max(1, keep);
        }
        if (spec.minP() > 0f) {
            float threshold = probs[0] * spec.minP();
            int keep = 1;
            while (keep < n && probs[keep] >= threshold) {
                keep++;
            }
            n = keep;
        }
        // temperature last: re-normalise the survivors at the requested temperature.
        float max = logits[order[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.exp((logits[order[i]] - max) / spec.temperature());
            probs[i] = (float) p;
            sum += p;
        }
        for (int i = 0; i < n; i++) {
            probs[i] = (float) (probs[i] / sum);
        }
        return n;
    }

    /** Puts the indices of the {@code k} largest logits, descending, into {@code order[0..k)}. */
    private int sortedTop(float[] logits, int k) {
        int v = logits.length;
        if (k >= v) {
            // Sort keys that order like the logits (higher first) and carry the index, without boxing.
            long[] keys = new long[v];
            for (int i = 0; i < v; i++) {
                keys[i] = ((long) descendingKey(logits[i]) << 32) | i;
            }
            Arrays.sort(keys);
            for (int i = 0; i < v; i++) {
                order[i] = (int) keys[i];
            }
            return v;
        }
        // Partial selection with a small min-heap: O(v log k).
        int[] heap = new int[k];
        int size = 0;
        for (int i = 0; i < v; i++) {
            if (size < k) {
                heap[size] = i;
                siftUp(heap, size++, logits);
            } else if (logits[i] > logits[heap[0]]) {
                heap[0] = i;
                siftDown(heap, size, logits);
            }
        }
        for (int i = size - 1; i >= 0; i--) {
            order[i] = heap[0];
            heap[0] = heap[i];
            siftDown(heap, i, logits);
        }
        return size;
    }

    /** An int whose ascending order is the float's descending order (NaN first, as {@code Float.compare} ranks it). */
    private static int descendingKey(float f) {
        int bits = Float.floatToIntBits(f);
        int ascending = bits >= 0 ? bits ^ Integer.MIN_VALUE : ~bits;
        return ~ascending ^ Integer.MIN_VALUE;
    }

    private static void siftUp(int[] heap, int i, float[] l) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (l[heap[i]] >= l[heap[parent]]) {
                return;
            }
            int t = heap[i];
            heap[i] = heap[parent];
            heap[parent] = t;
            i = parent;
        }
    }

    private static void siftDown(int[] heap, int size, float[] l) {
        int i = 0;
        while (true) {
            int left = 2 * i + 1;
            int smallest = i;
            if (left < size && l[heap[left]] < l[heap[smallest]]) {
                smallest = left;
            }
            if (left + 1 < size && l[heap[left + 1]] < l[heap[smallest]]) {
                smallest = left + 1;
            }
            if (smallest == i) {
                return;
            }
            int t = heap[i];
            heap[i] = heap[smallest];
            heap[smallest] = t;
            i = smallest;
        }
    }

    private void softmax(float[] logits, int n) {
        float max = logits[order[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.exp(logits[order[i]] - max);
            probs[i] = (float) p;
            sum += p;
        }
        for (int i = 0; i < n; i++) {
            probs[i] = (float) (probs[i] / sum);
        }
    }

    private int draw(int n) {
        double r = random.nextDouble();
        double cumulative = 0;
        for (int i = 0; i < n; i++) {
            cumulative += probs[i];
            if (r < cumulative) {
                return order[i];
            }
        }
        return order[n - 1];
    }

    /** The candidates kept by the last {@link #candidates} call (for tests). */
    int[] lastOrder() {
        return order;
    }

    float[] lastProbabilities() {
        return probs;
    }
}
