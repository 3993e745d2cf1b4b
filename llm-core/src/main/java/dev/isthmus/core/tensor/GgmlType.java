package dev.isthmus.core.tensor;

import java.util.Optional;

/**
 * Every tensor type a GGUF file can name, with its block layout.
 *
 * <p>The layout (elements and bytes per block) is known for all types so that files can be read,
 * inspected and copied even when no kernel for a type is on the class path; the arithmetic lives in
 * {@link BlockFormat} implementations found through {@link BlockFormats}.
 *
 * <pre>{@code
 * GgmlType t = GgmlType.fromId(12);          // Q4_K
 * long bytes = t.byteSize(4096);             // bytes of one 4096-wide row
 * }</pre>
 */
public enum GgmlType {
    F32(0, 1, 4, "llm-core"),
    F16(1, 1, 2, "llm-core"),
    Q4_0(2, 32, 18, "llm-quant"),
    Q4_1(3, 32, 20, "llm-quant"),
    Q5_0(6, 32, 22, "llm-quant"),
    Q5_1(7, 32, 24, "llm-quant"),
    Q8_0(8, 32, 34, "llm-core"),
    Q8_1(9, 32, 36, "llm-quant"),
    Q2_K(10, 256, 84, "llm-quant"),
    Q3_K(11, 256, 110, "llm-quant"),
    Q4_K(12, 256, 144, "llm-quant"),
    Q5_K(13, 256, 176, "llm-quant"),
    Q6_K(14, 256, 210, "llm-quant"),
    Q8_K(15, 256, 292, "llm-quant"),
    IQ2_XXS(16, 256, 66, "llm-quant"),
    IQ2_XS(17, 256, 74, "llm-quant"),
    IQ3_XXS(18, 256, 98, "llm-quant"),
    IQ1_S(19, 256, 50, "llm-quant"),
    IQ4_NL(20, 32, 18, "llm-quant"),
    IQ3_S(21, 256, 110, "llm-quant"),
    IQ2_S(22, 256, 82, "llm-quant"),
    IQ4_XS(23, 256, 136, "llm-quant"),
    I8(24, 1, 1, "llm-core"),
    I16(25, 1, 2, "llm-core"),
    I32(26, 1, 4, "llm-core"),
    I64(27, 1, 8, "llm-core"),
    F64(28, 1, 8, "llm-core"),
    IQ1_M(29, 256, 56, "llm-quant"),
    BF16(30, 1, 2, "llm-core"),
    TQ1_0(34, 256, 54, "llm-quant"),
    TQ2_0(35, 256, 66, "llm-quant"),
    MXFP4(39, 32, 17, "llm-quant");

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int bytesPerBlock;
    private final String module;

    GgmlType(int id, int blockSize, int bytesPerBlock, String module) {
        this.id = id;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
        this.module = module;
    }

    /** The numeric id stored in GGUF tensor infos ({@code ggml_type}). */
    public int id() {
        return id;
    }

    /** Elements per block (1 for plain element types). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int bytesPerBlock() {
        return bytesPerBlock;
    }

    /** True for types stored in blocks of more than one element with shared scales. */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** The Isthmus module expected to provide the kernels for this type. */
    public String providingModule() {
        return module;
    }

    /**
     * Bytes taken by {@code elements} consecutive elements.
     *
     * @throws IllegalArgumentException if {@code elements} is not a whole number of blocks
     * @throws ArithmeticException if the size overflows a {@code long}
     */
    public long byteSize(long elements) {
        if (elements < 0 || elements % blockSize != 0) {
            throw new IllegalArgumentException(
                    name() + " stores blocks of " + blockSize + " elements; " + elements + " is not a multiple");
        }
        return Math.multiplyExact(elements / blockSize, (long) bytesPerBlock);
    }

    /** The type with this GGUF id, if Isthmus knows it. */
    public static Optional<GgmlType> fromId(long id) {
        if (id < 0 || id >= BY_ID.length) {
            return Optional.empty();
        }
        return Optional.ofNullable(BY_ID[(int) id]);
    }
}
