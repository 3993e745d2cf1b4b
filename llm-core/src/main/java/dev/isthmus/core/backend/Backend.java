package dev.isthmus.core.backend;

import dev.isthmus.core.model.DecoderModel;
import dev.isthmus.core.model.DecoderWeights;
import dev.isthmus.core.model.DeviceForward;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.core.tensor.Tensor;
import java.util.Optional;

/**
 * The compute device a model runs on. The heavy operation — multiplying (possibly quantized) weight
 * matrices by activations — is the backend's; the light element-wise operations are
 * {@link dev.isthmus.core.backend.cpu.CpuOps} unless a backend overrides them.
 *
 * <p>Backends are found through {@link BackendProvider}s registered with {@link java.util.ServiceLoader}
 * and created by {@link Backends#create}. They are thread-safe; {@link #close()} releases their threads
 * and device memory.
 *
 * <pre>{@code
 * try (Backend cpu = Backends.create("cpu", 4)) {
 *     cpu.matmul(weights, activations, out, batch);
 * }
 * }</pre>
 */
public interface Backend extends AutoCloseable {

    /** The backend's name, e.g. {@code cpu} or {@code cuda}. */
    String name();

    /** Worker threads (CPU) or streams used. */
    int threads();

    /** Whether this backend can multiply weights stored in {@code weight}'s format. */
    boolean supports(Tensor weight);

    /**
     * {@code out[b * rows + r] = weight[r] · x[b * cols ...]} for every row {@code r} of the 2-D
     * {@code weight} ({@code [rows, cols]}) and every batch entry {@code b < batch}.
     *
     * @throws IllegalArgumentException if the arrays are too small for the shapes
     */
    default void matmul(Tensor weight, float[] x, float[] out, int batch) {
        matmul(weight, x, out, batch, true);
    }

    /**
     * As {@link #matmul(Tensor, float[], float[], int)}; {@code referenceRounding} chooses whether activations are
     * first rounded the way llama.cpp rounds them for the weight format ({@link
     * dev.isthmus.core.tensor.BlockFormat#roundActivations}) — on for decoders compared with llama.cpp, off
     * where full-precision activations are the reference (encoders compared with ONNX Runtime).
     */
    void matmul(Tensor weight, float[] x, float[] out, int batch, boolean referenceRounding);

    /**
     * Tells the backend that {@code weight} will be multiplied many times (a model's projection matrices, at
     * load time). A backend may then keep it in a layout of its own — a row-interleaved copy for the CPU's
     * decode kernels, device memory for a GPU — released by {@link #close()}; {@link #matmul} gives the same
     * results either way, up to the summation order of the prepared layout's kernels. The default does nothing.
     *
     * @throws IllegalArgumentException if {@code weight} is not 2-D
     */
    default void prepare(Tensor weight) {
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("only 2-D weights are prepared, " + weight + " has rank " + weight.rank());
        }
    }

    /**
     * Prepares {@code stacked} weight matrices (same column count; their rows concatenated, in order) with an
     * optional {@code bias} (one per stacked row, or {@code null}) and {@code activation} for repeated
     * full-precision products. The default multiplies through {@link #matmul(Tensor, float[], float[], int,
     * boolean)} without reference rounding on every call; backends override it to decode or upload once.
     *
     * @throws IllegalArgumentException if the weights are not 2-D with equal column counts, or the bias length
     *                                  is not the total row count
     */
    default Linear linear(java.util.List<Tensor> stacked, float[] bias, Linear.Activation activation) {
        return new MatmulLinear(this, stacked, bias, activation);
    }

    /**
     * The whole forward pass of a decoder on this backend's device, if it runs one: weights uploaded once,
     * the KV cache and activations kept on the device, logits copied back ({@link DeviceForward}). Empty — the
     * default, and the CPU backend's answer — means {@link DecoderModel} runs the pass on the host, calling
     * {@link #matmul} for each projection. A backend also answers empty for models it cannot run whole (it
     * says why in its log), which then fall back to the host pass.
     */
    default Optional<DeviceForward> forwardPass(ModelConfig config, DecoderWeights weights) {
        return Optional.empty();
    }

    /**
     * Runs {@code body} for every index in {@code [0, count)}, in parallel where the backend has threads.
     * Used for the light, independent per-head work (attention) between matmuls. The default runs in order.
     */
    default void parallelFor(int count, java.util.function.IntConsumer body) {
        for (int i = 0; i < count; i++) {
            body.accept(i);
        }
    }

    @Override
    void close();
}
