package dev.isthmus.core.gguf;

import dev.isthmus.core.tensor.GgmlType;

/**
 * llama.cpp's {@code llama_ftype} numbers ({@code general.file_type}) for files whose matrices all share one
 * type. Mixed recipes (Q4_K_M, …) have their own numbers, which llm-quant's {@code QuantizationType} carries.
 *
 * <pre>{@code
 * writer.put("general.file_type", GgufValue.uint32(LlamaFileType.of(GgmlType.Q8_0)));   // 7
 * }</pre>
 */
public final class LlamaFileType {
    private LlamaFileType() {
    }

    /**
     * The file type of a model whose matrices are all {@code matrixType}.
     *
     * @throws IllegalArgumentException for a type llama.cpp names only within mixed recipes (Q3_K, Q4_K, Q5_K)
     *         or never uses for whole models
     */
    public static int of(GgmlType matrixType) {
        return switch (matrixType) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case Q2_K -> 10;
            case Q6_K -> 18;
            case IQ4_NL -> 25;
            case IQ4_XS -> 30;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("llama.cpp has no file type for models made only of " + matrixType);
        };
    }
}
