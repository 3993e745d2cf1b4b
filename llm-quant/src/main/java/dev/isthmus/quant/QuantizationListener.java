package dev.isthmus.quant;

/**
 * Told about each tensor as the quantizer finishes it, in output order (from the calling thread).
 *
 * <pre>{@code
 * Quantizer.gguf(QuantizationType.Q4_K_M)
 *         .progress(p -> System.out.printf("[%d/%d] %s -> %s%n", p.index() + 1, p.count(), p.name(), p.to()))
 *         .quantize(in, out);
 * }</pre>
 */
@FunctionalInterface
public interface QuantizationListener {
    void tensorDone(TensorReport tensor);
}
