package dev.isthmus.gpu.cuda;

import dev.isthmus.core.tensor.GgmlType;
import java.util.EnumSet;
import java.util.Set;

/**
 * How a weight format is stored on the GPU. F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K,
 * Q5_K and Q6_K have kernels and are
 * uploaded as they are; BF16 becomes F32 (exact, and F16's range is narrower than BF16's); every other
 * format is dequantized to F16 at upload (its values fit F16's range; about 3 decimal digits are kept).
 *
 * <pre>{@code
 * DeviceFormat.of(GgmlType.IQ4_XS)  // F16, converted
 * DeviceFormat.of(GgmlType.Q4_K)   // Q4_K, as stored
 * }</pre>
 *
 * @param source the format in the model file
 * @param device the format in device memory
 */
public record DeviceFormat(GgmlType source, GgmlType device) {
    private static final Set<GgmlType> NATIVE = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.Q4_0,
            GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.IQ4_NL, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K,
            GgmlType.Q6_K);
    private static final Set<GgmlType> NOT_WEIGHTS = EnumSet.of(GgmlType.I8, GgmlType.I16, GgmlType.I32,
            GgmlType.I64, GgmlType.F64);

    /** Whether a kernel multiplies {@code type} directly. */
    public static boolean isNative(GgmlType type) {
        return NATIVE.contains(type);
    }

    /** The device storage of weights stored as {@code type}. */
    public static DeviceFormat of(GgmlType type) {
        if (NOT_WEIGHTS.contains(type)) {
            throw new IllegalArgumentException(type + " is not a weight format the CUDA backend multiplies");
        }
        if (isNative(type)) {
            return new DeviceFormat(type, type);
        }
        return new DeviceFormat(type, type == GgmlType.BF16 ? GgmlType.F32 : GgmlType.F16);
    }

    /** Whether the weights are rewritten on the host before upload. */
    public boolean converted() {
        return source != device;
    }

    /** Bytes of one row of {@code cols} elements on the device. */
    public long deviceRowBytes(long cols) {
        return device.byteSize(cols);
    }
}
