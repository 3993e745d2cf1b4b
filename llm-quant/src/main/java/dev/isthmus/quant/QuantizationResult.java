package dev.isthmus.quant;

import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of {@link Quantizer#quantize}: sizes, and per-tensor decisions including fallbacks.
 *
 * @param output  the file written
 * @param type    the file type
 * @param tensors one report per tensor, in output order
 */
public record QuantizationResult(Path output, QuantizationType type, List<TensorReport> tensors) {
    public QuantizationResult {
        tensors = List.copyOf(tensors);
    }

    public long bytesIn() {
        return tensors.stream().mapToLong(TensorReport::bytesIn).sum();
    }

    public long bytesOut() {
        return tensors.stream().mapToLong(TensorReport::bytesOut).sum();
    }

    /** Tensors whose recipe type did not fit their shape. */
    public List<TensorReport> fallbacks() {
        return tensors.stream().filter(t -> t.fallback() != null).toList();
    }
}
