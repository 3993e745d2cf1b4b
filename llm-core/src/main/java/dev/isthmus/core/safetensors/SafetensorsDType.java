package dev.isthmus.core.safetensors;

import dev.isthmus.core.tensor.GgmlType;
import java.util.Optional;

/** The element types of the safetensors format, with their sizes and GGML equivalents. */
public enum SafetensorsDType {
    BOOL(1, null), U8(1, null), I8(1, GgmlType.I8), F8_E5M2(1, null), F8_E4M3(1, null),
    I16(2, GgmlType.I16), U16(2, null), F16(2, GgmlType.F16), BF16(2, GgmlType.BF16),
    I32(4, GgmlType.I32), U32(4, null), F32(4, GgmlType.F32),
    F64(8, GgmlType.F64), I64(8, GgmlType.I64), U64(8, null);

    private final int size;
    private final GgmlType ggml;

    SafetensorsDType(int size, GgmlType ggml) {
        this.size = size;
        this.ggml = ggml;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** The tensor type Isthmus computes with, if it has one for this dtype. */
    public Optional<GgmlType> ggmlType() {
        return Optional.ofNullable(ggml);
    }

    /** The dtype for a GGML type, if safetensors can store it. */
    public static Optional<SafetensorsDType> of(GgmlType type) {
        for (SafetensorsDType d : values()) {
            if (d.ggml == type) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
