package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The file types the quantizer produces, named and numbered as llama.cpp's {@code llama_ftype}
 * ({@code general.file_type} in the output). Mixed recipes (_S, _M, _L) pick per-tensor types as
 * llama.cpp does; the plain names use their base type for every quantizable weight.
 *
 * <pre>{@code
 * QuantizationType t = QuantizationType.parse("q4_k_m");   // case-insensitive
 * }</pre>
 */
public enum QuantizationType {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q8_0(7, GgmlType.Q8_0),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q2_K(10, GgmlType.Q2_K),
    Q3_K_S(11, GgmlType.Q3_K),
    Q3_K_M(12, GgmlType.Q3_K),
    Q3_K_L(13, GgmlType.Q3_K),
    Q4_K_S(14, GgmlType.Q4_K),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_S(16, GgmlType.Q5_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K),
    IQ4_NL(25, GgmlType.IQ4_NL),
    IQ4_XS(30, GgmlType.IQ4_XS),
    BF16(32, GgmlType.BF16);

    private final int fileType;
    private final GgmlType baseType;

    QuantizationType(int fileType, GgmlType baseType) {
        this.fileType = fileType;
        this.baseType = baseType;
    }

    /** llama.cpp's {@code llama_ftype} number, written as {@code general.file_type}. */
    public int fileType() {
        return fileType;
    }

    /** The type most weights get ({@code llama_ftype_get_default_type}). */
    public GgmlType baseType() {
        return baseType;
    }

    /**
     * The type named as llama-quantize names it ({@code q4_k_m}, {@code Q6_K}, {@code iq4_xs}, …);
     * {@code q4_k} and {@code q5_k} mean the _M recipes and {@code q3_k} Q3_K_M, as in llama-quantize.
     *
     * @throws IllegalArgumentException listing the accepted names
     */
    public static QuantizationType parse(String name) {
        java.util.Objects.requireNonNull(name, "quantization type name");
        String n = name.trim().toUpperCase(Locale.ROOT);
        switch (n) {
            case "Q4_K" -> n = "Q4_K_M";
            case "Q5_K" -> n = "Q5_K_M";
            case "Q3_K" -> n = "Q3_K_M";
            default -> {
            }
        }
        for (QuantizationType t : values()) {
            if (t.name().equals(n)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown quantization type '" + name + "'; known: "
                + Arrays.stream(values()).map(t -> t.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", ")));
    }
}
