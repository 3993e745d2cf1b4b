package dev.isthmus.core.backend.cpu;

/**
 * Rotary position embeddings, with the angle tables computed as ggml does (the frequency advanced by
 * repeated float multiplication), in the two pairings models use: adjacent elements ({@link Style#NORMAL},
 * Llama) or halves ({@link Style#NEOX}, Qwen2, Phi-3).
 */
public final class Rope {
    /** How rotated pairs are formed. */
    public enum Style { NORMAL, NEOX }

    private final Style style;
    private final int dims;
    private final float thetaScale;
    private final float[] freqFactors;

    /**
     * @param dims        rotated dimensions per head (≤ head size; the rest pass through)
     * @param base        {@code rope.freq_base}
     * @param freqFactors per-pair divisors (Llama 3.1 {@code rope_freqs}), or null
     */
    public Rope(Style style, int dims, float base, float[] freqFactors) {
        if (dims <= 0 || dims % 2 != 0) {
            throw new IllegalArgumentException("rotary dimensions must be positive and even, got " + dims);
        }
        if (freqFactors != null && freqFactors.length < dims / 2) {
            throw new IllegalArgumentException("rope_freqs has " + freqFactors.length + " factors, needs " + dims / 2);
        }
        this.style = style;
        this.dims = dims;
        this.thetaScale = (float) Math.pow(base, -2.0f / dims);
        this.freqFactors = freqFactors;
    }

    /** Fills {@code cos[i], sin[i]} for the {@code dims/2} pairs at position {@code pos}. */
    public void angles(int pos, float[] cos, float[] sin) {
        float theta = pos;
        for (int i = 0; i < dims / 2; i++) {
            float t = freqFactors == null ? theta : theta / freqFactors[i];
            cos[i] = (float) Math.cos(t);
            sin[i] = (float) Math.sin(t);
            theta *= thetaScale;
        }
    }

    /** Rotates {@code heads} heads of size {@code headSize} stored from {@code off}, with precomputed angles. */
    public void apply(float[] x, int off, int heads, int headSize, float[] cos, float[] sin) {
        int half = dims / 2;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headSize;
            for (int i = 0; i < half; i++) {
                int a;
                int b;
                if (style == Style.NORMAL) {
                    a = base + 2 * i;
                    b = a + 1;
                } else {
                    a = base + i;
                    b = base + i + half;
                }
                float x0 = x[a];
                float x1 = x[b];
                x[a] = x0 * cos[i] - x1 * sin[i];
                x[b] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }

    public int dims() {
        return dims;
    }
}
