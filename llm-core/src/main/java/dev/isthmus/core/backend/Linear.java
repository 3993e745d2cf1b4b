package dev.isthmus.core.backend;

/**
 * A fully connected layer prepared once for many full-precision products: {@code out = act(W·x + bias)} for
 * every activation row of a batch. Backends may re-lay the weights out at preparation (the CPU backend decodes
 * them to float panels), so a call does no decoding. Made by {@link Backend#linear}; thread-safe.
 *
 * <pre>{@code
 * Linear up = backend.linear(List.of(ffnUp), upBias, Linear.Activation.GELU_ERF);
 * up.apply(x, hidden, tokens);   // hidden[t * up.outputs() + r]
 * }</pre>
 */
public interface Linear {

    /** The function applied to every output after the bias. */
    enum Activation {
        IDENTITY,
        /** Exact GELU, x·Φ(x) ({@link dev.isthmus.core.backend.cpu.CpuOps#geluErf}). */
        GELU_ERF
    }

    /** Width of an input row (the weight's columns). */
    int inputs();

    /** Width of an output row (the weight rows, summed over stacked weights). */
    int outputs();

    /**
     * {@code out[b·outputs() + r] = act(W[r]·x[b·inputs() ...] + bias[r])} for {@code b < batch}, in full
     * precision (activations are not rounded to the weight format).
     *
     * @throws IllegalArgumentException if the arrays are too small for {@code batch}
     */
    void apply(float[] x, float[] out, int batch);
}
