package dev.isthmus.gpu.cuda;

import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.util.Optional;

/**
 * How activations are rounded on the device before they meet a weight format: the kernel twin of each
 * format's {@link dev.isthmus.core.tensor.BlockFormat#roundActivations} (llama.cpp's {@code vec_dot_type}),
 * so the device multiplies the numbers the CPU backend multiplies. Which rounding a format uses is a table
 * here, checked against every registered format's own rounding by {@code DeviceRoundingTest}.
 *
 * <pre>{@code
 * DeviceRounding.of(GgmlType.Q4_K)   // Q8_K: 256-element blocks, kernel round_q8_k
 * }</pre>
 */
public enum DeviceRounding {
    /** Used as they are (F32 weights). */
    NONE(null, 1, 1),
    /** To half precision (F16 weights). */
    F16("round_f16", 1, 1),
    /** To bfloat16 (BF16 weights). */
    BF16("round_bf16", 1, 1),
    /** Through 32-element Q8_0 blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): a warp per block. */
    Q8_0("round_q8_0", 32, 1),
    /** Through 256-element Q8_K blocks (the k-quants and IQ4_XS): a warp per block, 8 elements a lane. */
    Q8_K("round_q8_k", 256, 8);

    private final String kernel;
    private final int block;
    private final int elementsPerThread;

    DeviceRounding(String kernel, int block, int elementsPerThread) {
        this.kernel = kernel;
        this.block = block;
        this.elementsPerThread = elementsPerThread;
    }

    /**
     * The kernel in kernels.cu, {@code (float *dst, const float *src, int n, signed char *qx)}: qx (may be null)
     * gets one row's rounding as integers where the rounding has an integer form ({@link #hasIntegers}).
     */
    String kernel() {
        return kernel;
    }

    /** The kernels' ROUND_ code for this rounding (kernels.cu: the fused kernels' {@code rounding} argument). */
    int code() {
        return ordinal();
    }

    /** Whether the rounding is 8-bit levels times block scales, which the integer decode products read. */
    boolean hasIntegers() {
        return this == Q8_0 || this == Q8_K;
    }

    /** Elements rounded together (one scale): the activation count must be a multiple. */
    int block() {
        return block;
    }

    /** Elements each kernel thread rounds; the launch has {@code n / elementsPerThread()} threads. */
    int elementsPerThread() {
        return elementsPerThread;
    }

    /**
     * The rounding activations get before meeting {@code type} weights, or empty if the table does not know
     * a format that rounds (then the model's forward pass stays on the host, where the format rounds itself).
     */
    public static Optional<DeviceRounding> of(GgmlType type) {
        return switch (type) {
            case F32 -> Optional.of(NONE);
            case F16 -> Optional.of(F16);
            case BF16 -> Optional.of(BF16);
            case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL -> Optional.of(Q8_0);
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> Optional.of(Q8_K);
            default -> BlockFormats.find(type).filter(f -> !f.roundsActivations()).map(f -> NONE);
        };
    }
}
