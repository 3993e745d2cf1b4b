package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.testing.SharedTestData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CoreFormatsTest {

    private static float[] randomFloats(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 2);
        }
        return x;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0"})
    void coreFormatsAreRegistered(GgmlType type) {
        assertThat(BlockFormats.find(type)).as("core registers %s", type).isPresent();
        assertThat(BlockFormats.require(type).type()).isEqualTo(type);
    }

    @Test
    void missingFormatNamesTheTypeAndTheModule() {
        assertThatThrownBy(() -> BlockFormats.require(GgmlType.Q4_K, "tensor 'blk.0.ffn_up.weight'"))
                .isInstanceOf(UnsupportedFormatException.class)
                .hasMessageContaining("Q4_K")
                .hasMessageContaining("blk.0.ffn_up.weight")
                .hasMessageContaining("llm-quant");
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 24, 40, 256, 4096 + 40})
    void fourRowDotIsFourSingleRowDotsBitForBit(int n) {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0}) {
            if (n % type.blockSize() != 0) {
                continue;
            }
            BlockFormat f = BlockFormats.require(type);
            float[] x = randomFloats(n, n + 7);
            long rowBytes = type.byteSize(n);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocate(5 * rowBytes + 3);
                for (int r = 0; r < 5; r++) {
                    f.quantize(randomFloats(n, 31L * n + r), 0, data, 3 + r * rowBytes, n);
                }
                float[] out = new float[6];
                // Rows out of order and one repeated: the offsets are independent.
                long[] rows = {3 + 4 * rowBytes, 3, 3 + 2 * rowBytes, 3};
                f.dot4(data, rows[0], rows[1], rows[2], rows[3], x, 0, n, out, 1);
                for (int k = 0; k < 4; k++) {
                    assertThat(out[1 + k]).as("%s n=%d row %d", type, n, k).isEqualTo(f.dot(data, rows[k], x, 0, n));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 64, 96, 256, 4096 + 32})
    void vectorDotEqualsScalarDequantizeThenDot(int n) {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0}) {
            BlockFormat f = BlockFormats.require(type);
            float[] w = randomFloats(n, n);
            float[] x = randomFloats(n, n + 1);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocate(type.byteSize(n) + 3);
                // An odd offset: kernels must not assume aligned rows.
                f.quantize(w, 0, data, 3, n);
                float[] decoded = new float[n];
                f.dequantize(data, 3, decoded, 0, n);
                double expected = 0;
                for (int i = 0; i < n; i++) {
                    expected += (double) decoded[i] * x[i];
                }
                assertThat((double) f.dot(data, 3, x, 0, n)).as("%s dot over %d", type, n)
                        .isCloseTo(expected, within(1e-3 * Math.sqrt(n)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0"})
    void quantizeThenDequantizeStaysWithinTheFormatsPrecision(GgmlType type) {
        BlockFormat f = BlockFormats.require(type);
        float[] w = randomFloats(1024, 3);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(type.byteSize(w.length));
            f.quantize(w, 0, data, 0, w.length);
            float[] back = new float[w.length];
            f.dequantize(data, 0, back, 0, w.length);
            double relative = switch (type) {
                case F16 -> 1e-3;
                case BF16 -> 8e-3;
                default -> 0.0;
            };
            for (int b = 0; b < w.length; b += 32) {
                float amax = 0;
                for (int i = b; i < b + 32; i++) {
                    amax = Math.max(amax, Math.abs(w[i]));
                }
                for (int i = b; i < b + 32; i++) {
                    double tolerance = type == GgmlType.Q8_0 ? amax / 127.0 * 0.51 + 1e-3 * amax
                            : Math.abs(w[i]) * relative;
                    assertThat((double) back[i]).as("%s element %d", type, i).isCloseTo(w[i], within(tolerance + 1e-7));
                }
            }
        }
    }

    @Test
    void vectorDequantizationEqualsTheScalarOracleBitForBit() {
        float[] w = randomFloats(32 * 40, 9);
        w[5] = Float.NaN;
        w[6] = Float.POSITIVE_INFINITY;
        w[7] = 1e-7f;
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : new GgmlType[] {GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0}) {
                BlockFormat f = BlockFormats.require(type);
                MemorySegment data = arena.allocate(type.byteSize(w.length) + 1);
                float[] src = type == GgmlType.Q8_0 ? randomFloats(w.length, 10) : w;
                f.quantize(src, 0, data, 1, w.length);
                float[] fast = new float[w.length];
                f.dequantize(data, 1, fast, 0, w.length);
                float[] scalar = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    long at = 1 + 2L * i;
                    scalar[i] = switch (type) {
                        case F16 -> Float.float16ToFloat(data.get(ValueLayouts.I16, at));
                        case BF16 -> Half.bf16ToFloat(data.get(ValueLayouts.I16, at));
                        default -> 0f;
                    };
                }
                if (type == GgmlType.Q8_0) {
                    ((Q8_0Format) f).dequantizeScalar(data, 1, scalar, 0, w.length);
                }
                for (int i = 0; i < w.length; i++) {
                    assertThat(Float.floatToIntBits(fast[i])).as("%s element %d", type, i)
                            .isEqualTo(Float.floatToIntBits(scalar[i]));
                }
            }
        }
    }

    @Test
    void q8_0RoundsHalvesAwayFromZeroLikeC() {
        assertThat(Q8_0Format.roundHalfAway(2.5f)).isEqualTo(3);
        assertThat(Q8_0Format.roundHalfAway(-2.5f)).isEqualTo(-3);
        assertThat(Q8_0Format.roundHalfAway(0.49999997f)).isEqualTo(0);
        assertThat(Q8_0Format.roundHalfAway(-0.5f)).isEqualTo(-1);
    }

    /**
     * The strongest check available: llama.cpp's own quantizer made stories260K-q8_0.gguf and
     * stories260K-f16.gguf from stories260K.gguf; encoding the F32 weights ourselves must give the same bytes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"stories260K-q8_0.gguf", "stories260K-f16.gguf"})
    void encodingMatchesLlamaCppsQuantizerByteForByte(String quantized) throws Exception {
        Path f32Path = SharedTestData.testdata("models/stories260K.gguf");
        Path qPath = SharedTestData.testdata("models/" + quantized);
        int compared = 0;
        try (GgufFile f32 = GgufFile.open(f32Path); GgufFile q = GgufFile.open(qPath); Arena arena = Arena.ofConfined()) {
            for (GgufTensorInfo info : q.tensors()) {
                if (info.type() != GgmlType.Q8_0 && info.type() != GgmlType.F16) {
                    continue;
                }
                float[] source = f32.tensor(info.name()).toFloatArray();
                MemorySegment ours = arena.allocate(info.byteSize());
                BlockFormats.require(info.type()).quantize(source, 0, ours, 0, source.length);
                long mismatch = ours.mismatch(q.tensorData(info.name()));
                assertThat(mismatch).as("%s %s first differing byte", quantized, info.name()).isEqualTo(-1L);
                compared++;
            }
        }
        assertThat(compared).as("tensors compared").isGreaterThan(4);
    }

    @Test
    void q8_0DequantizationMatchesTheF32Original() throws Exception {
        try (GgufFile f32 = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"));
             GgufFile q8 = GgufFile.open(SharedTestData.testdata("models/stories260K-q8_0.gguf"))) {
            float[] original = f32.tensor("token_embd.weight").toFloatArray();
            float[] decoded = q8.tensor("token_embd.weight").toFloatArray();
            assertThat(decoded).hasSameSizeAs(original);
            for (int i = 0; i < original.length; i++) {
                assertThat(decoded[i]).as("element %d", i).isCloseTo(original[i], within(0.02f));
            }
        }
    }
}
