package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.quant.testing.GgmlLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every llm-quant format against ggml's own code (through FFM) and against its scalar twin. */
class BlockFormatsTest {
    static final String[] TYPES = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
        "IQ4_XS"};

    /** Gaussian rows plus rows that hit the encoders' edge cases. */
    static float[] testRows(int rowLength, int gaussianRows, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int rows = gaussianRows + 5;
        float[] x = new float[rows * rowLength];
        for (int i = 0; i < gaussianRows * rowLength; i++) {
            // Varying scale per 32 elements so sub-block scales differ.
            x[i] = (float) (r.nextGaussian() * (0.01 + ((i / 32) % 7) * 0.3));
        }
        int at = gaussianRows * rowLength;
        // a row of zeros, a constant row, a row with one spike, a row of tiny values, a non-negative row
        at += rowLength;
        for (int i = 0; i < rowLength; i++) {
            x[at + i] = 0.25f;
        }
        at += rowLength;
        x[at + 7] = -3.5f;
        at += rowLength;
        for (int i = 0; i < rowLength; i++) {
            x[at + i] = (float) (r.nextGaussian() * 1e-9);
        }
        at += rowLength;
        for (int i = 0; i < rowLength; i++) {
            x[at + i] = (float) Math.abs(r.nextGaussian());
        }
        return x;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void isRegisteredThroughServiceLoader(GgmlType type) {
        assertThat(BlockFormats.find(type)).as("llm-quant registers %s", type).isPresent();
        assertThat(BlockFormats.require(type).getClass().getPackageName()).isEqualTo("dev.isthmus.quant");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void dequantizationOfRandomBytesEqualsGgmlsBitForBit(GgmlType type) {
        GgmlLibrary ggml = GgmlLibrary.require();
        BlockFormat f = BlockFormats.require(type);
        int count = 16 * 256;
        SplittableRandom r = new SplittableRandom(type.id());
        byte[] bytes = new byte[(int) type.byteSize(count)];
        r.nextBytes(bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
            float[] ours = new float[count];
            f.dequantize(data, 0, ours, 0, count);
            float[] theirs = ggml.toFloat(type, data, count);
            for (int i = 0; i < count; i++) {
                assertThat(Float.floatToIntBits(ours[i])).as("%s element %d: ours %s, ggml %s", type, i, ours[i], theirs[i])
                        .isEqualTo(Float.floatToIntBits(theirs[i]));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void encodingEqualsGgmlQuantizeChunkByteForByte(GgmlType type) {
        GgmlLibrary ggml = GgmlLibrary.require();
        BlockFormat f = BlockFormats.require(type);
        int rowLength = 512;
        float[] x = testRows(rowLength, 24, 100 + type.id());
        byte[] theirs = ggml.quantize(type, x, rowLength);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ours = arena.allocate(theirs.length);
            f.quantize(x, 0, ours, 0, x.length);
            long mismatch = ours.mismatch(MemorySegment.ofArray(theirs));
            assertThat(mismatch).as("%s: first byte differing from ggml_quantize_chunk (block %d)", type,
                    mismatch / type.bytesPerBlock()).isEqualTo(-1L);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void vectorDotEqualsScalarTwin(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        for (int n : new int[] {256, 512, 4096 + 256}) {
            float[] w = java.util.Arrays.copyOf(testRows(n, 1, n), n);
            float[] x = java.util.Arrays.copyOf(testRows(n, 1, n + 1), n);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocate(type.byteSize(n) + 3);
                // An odd offset: kernels must not assume aligned rows.
                f.quantize(w, 0, data, 3, n);
                double magnitude = 0;
                float[] decoded = new float[n];
                f.dequantize(data, 3, decoded, 0, n);
                for (int i = 0; i < n; i++) {
                    magnitude += Math.abs(decoded[i] * x[i]);
                }
                float expected = QuantVectors.scalarDot(f, data, 3, x, 0, n);
                assertThat(f.dot(data, 3, x, 0, n)).as("%s dot over %d elements", type, n)
                        .isCloseTo(expected, within((float) (1e-5 * magnitude + 1e-6)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void vectorDotUsesTheXOffset(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        int n = 512;
        float[] w = java.util.Arrays.copyOf(testRows(n, 1, 7), n);
        float[] x = testRows(n, 3, 8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(type.byteSize(n));
            f.quantize(w, 0, data, 0, n);
            float expected = QuantVectors.scalarDot(f, data, 0, x, 2 * n, n);
            assertThat(f.dot(data, 0, x, 2 * n, n)).as("%s dot at x offset %d", type, 2 * n)
                    .isCloseTo(expected, within(1e-3f * Math.abs(expected) + 1e-4f));
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_NL", "IQ4_XS"})
    void vectorDequantizationEqualsScalarTwinBitForBit(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        if (!(f instanceof ScalarTwin twin)) {
            return;
        }
        int count = 16 * 256;
        SplittableRandom r = new SplittableRandom(31 + type.id());
        byte[] bytes = new byte[(int) type.byteSize(count) + 3];
        r.nextBytes(bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
            float[] vector = new float[count + 5];
            float[] scalar = new float[count + 5];
            // Odd byte and element offsets: kernels must not assume alignment.
            f.dequantize(data, 3, vector, 5, count);
            twin.dequantizeScalar(data, 3, scalar, 5, count);
            for (int i = 0; i < count + 5; i++) {
                assertThat(Float.floatToIntBits(vector[i])).as("%s element %d: vector %s, scalar %s", type, i, vector[i],
                        scalar[i]).isEqualTo(Float.floatToIntBits(scalar[i]));
            }
        }
    }

    /** Byte offset of the F16 super-block scale {@code d} inside a block of {@code type}. */
    static int scaleOffset(GgmlType type) {
        return switch (type) {
            case Q2_K -> 80;
            case Q3_K -> 108;
            case Q6_K -> 208;
            default -> 0;
        };
    }

    /**
     * Corrupt blocks (NaN or infinite F16 scale) decode as ggml decodes them: the non-finite value propagates
     * to that block's elements and to any dot product over it; nothing throws, other blocks are untouched.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
        "Q6_K", "IQ4_NL", "IQ4_XS"})
    void nonFiniteScalesPropagateAsInGgml(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        int count = 4 * 256;
        int qk = type.blockSize();
        float[] w = java.util.Arrays.copyOf(testRows(count, 1, 5), count);
        float[] x = java.util.Arrays.copyOf(testRows(count, 1, 6), count);
        for (short bits : new short[] {(short) 0x7E00, (short) 0x7C00, (short) 0xFC00}) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocate(type.byteSize(count));
                f.quantize(w, 0, data, 0, count);
                int corrupt = count / qk / 2;
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, (long) corrupt * type.bytesPerBlock() + scaleOffset(type), bits);
                float[] ours = new float[count];
                f.dequantize(data, 0, ours, 0, count);
                for (int i = 0; i < count; i++) {
                    boolean inCorrupt = i / qk == corrupt;
                    assertThat(Float.isFinite(ours[i])).as("%s scale %04x: element %d (%s) finite", type, bits, i, ours[i])
                            .isEqualTo(!inCorrupt);
                }
                GgmlLibrary ggml = GgmlLibrary.orNull();
                if (ggml != null) {
                    float[] theirs = ggml.toFloat(type, data, count);
                    for (int i = 0; i < count; i++) {
                        if (Float.isNaN(theirs[i])) {
                            assertThat(ours[i]).as("%s element %d: ggml gives NaN", type, i).isNaN();
                        } else {
                            assertThat(ours[i]).as("%s element %d", type, i).isEqualTo(theirs[i]);
                        }
                    }
                }
                assertThat(Float.isFinite(f.dot(data, 0, x, 0, count))).as("%s scale %04x: dot finite", type, bits)
                        .isFalse();
                assertThat(Float.isFinite(f.dot(data, 0, x, 0, corrupt * qk))).as("%s: dot before the corrupt block",
                        type).isTrue();
            }
        }
    }
}
