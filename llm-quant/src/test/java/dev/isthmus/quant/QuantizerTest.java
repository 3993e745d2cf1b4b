package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.quant.testing.SharedFiles;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The quantizer against files llama.cpp's quantizer produced from the same inputs. */
class QuantizerTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "synth-llama256-f32, q4_0, synth-llama256-q4_0",
        "synth-llama256-f32, q6_k, synth-llama256-q6_k",
        "synth-llama256-f32, q5_k_m, synth-llama256-q5_k_m",
        "synth-llama256-f32, q4_k_m, synth-llama256-q4_k_m",
        "synth-llama256-f32, q3_k_m, synth-llama256-q3_k_m",
        "synth-llama256-f32, q2_k, synth-llama256-q2_k",
        "synth-llama256-f32, iq4_nl, synth-llama256-iq4_nl",
        "synth-llama256-f32, iq4_xs, synth-llama256-iq4_xs",
        "synth-llama256-f32, q8_0, synth-llama256-q8_0",
        "synth-llama256-f32, bf16, synth-llama256-bf16",
        "stories260K, q4_0, stories260K-q4_0",
        "stories260K, q4_1, stories260K-q4_1",
        "stories260K, q5_0, stories260K-q5_0",
        "stories260K, q5_1, stories260K-q5_1",
        "stories260K, q8_0, stories260K-q8_0",
        "stories260K, f16, stories260K-f16",
    })
    void outputIsByteIdenticalToLlamaCppsQuantizer(String input, String type, String expected) throws Exception {
        Path in = SharedFiles.testdata("models/" + input + ".gguf");
        Path reference = SharedFiles.testdata("models/" + expected + ".gguf");
        Path out = tmp.resolve(expected + ".gguf");
        List<TensorReport> progress = new ArrayList<>();
        Quantizer.gguf(QuantizationType.parse(type)).threads(2).progress(progress::add).quantize(in, out);

        byte[] ours = Files.readAllBytes(out);
        byte[] theirs = Files.readAllBytes(reference);
        long mismatch = java.util.Arrays.mismatch(ours, theirs);
        assertThat(mismatch).as("%s: first byte differing from llama.cpp's %s (%s)", type, expected,
                describe(reference, mismatch)).isEqualTo(-1L);
        assertThat(progress).as("one progress report per tensor").hasSize(tensorCount(reference));
    }

    /** Names the tensor a byte offset falls in, for the failure message. */
    private static String describe(Path file, long offset) throws Exception {
        if (offset < 0) {
            return "identical";
        }
        try (GgufFile f = GgufFile.open(file)) {
            if (offset < f.dataOffset()) {
                return "in the header at " + offset;
            }
            for (GgufTensorInfo t : f.tensors()) {
                long start = f.dataOffset() + t.offset();
                if (offset >= start && offset < start + t.byteSize()) {
                    return "tensor " + t.name() + " (" + t.type() + ") byte " + (offset - start);
                }
            }
            return "at " + offset;
        }
    }

    private static int tensorCount(Path file) throws Exception {
        try (GgufFile f = GgufFile.open(file)) {
            return f.tensors().size();
        }
    }

    @Test
    void reportsTheShapeFallbacksItMakes() throws Exception {
        Path in = SharedFiles.testdata("models/stories260K.gguf");
        QuantizationResult result = Quantizer.gguf(QuantizationType.Q4_0).threads(1).quantize(in, tmp.resolve("q.gguf"));
        // ffn_down rows are 172 wide: no 32-element block fits, so llama.cpp (and we) store them as F16;
        // output.weight would get Q6_K, whose 256-element blocks do not fit 64-wide rows: Q8_0 instead.
        assertThat(result.fallbacks()).as("fallback tensors").isNotEmpty().allSatisfy(t -> {
            if (t.name().contains("ffn_down")) {
                assertThat(t.to()).isEqualTo(GgmlType.F16);
                assertThat(t.fallback()).contains("172");
            } else {
                assertThat(t.name()).isEqualTo("output.weight");
                assertThat(t.to()).isEqualTo(GgmlType.Q8_0);
            }
        });
        assertThat(result.fallbacks()).as("one ffn_down fallback per layer, plus output.weight").hasSize(6);
    }

    /**
     * stories260K's rows are 64 and 172 wide: no 256-element super-block fits, so nearly every tensor takes
     * llama.cpp's fallback path. The hashes are of the files {@code ../shared/reference/tools/llama_quantize.py}
     * wrote from stories260K.gguf (FTYPE 10, 12, 25, 30); the counts are from its "N of 48 tensor(s) required
     * fallback quantization" line.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "q2_k, 36, 935a9a0284615853496ce456f1742d61e168c1da673fad219038fde003b88b7c",
        "q3_k_m, 36, 090f940ddee47717b21ca33d40823fe7dc0b17e500140ed4105490fd4349a979",
        "iq4_nl, 6, e4cfb0230123440f407062c0fc47f8800387deb22b1b07becdbb4e92f4861b2d",
        "iq4_xs, 36, d229542aa8bd450a173381c0d611bfa9252172b26010248320952dc0dea2ec44",
    })
    void shapeFallbacksGiveLlamaCppsBytes(String type, int fallbacks, String llamaCppSha256) throws Exception {
        Path in = SharedFiles.testdata("models/stories260K.gguf");
        Path out = tmp.resolve(type + ".gguf");
        QuantizationResult result = Quantizer.gguf(QuantizationType.parse(type)).threads(2).quantize(in, out);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(out)));
        assertThat(sha).as("%s: SHA-256 of our file vs llama.cpp's", type).isEqualTo(llamaCppSha256);
        assertThat(result.fallbacks()).as("%s: tensors reported as fallbacks", type).hasSize(fallbacks)
                .allSatisfy(t -> assertThat(t.fallback()).as("fallback message of %s", t.name())
                        .startsWith(t.name()).contains("not a multiple of").contains("using " + t.to()));
    }

    @Test
    void fallbacksReachTheListener() throws Exception {
        Path in = SharedFiles.testdata("models/stories260K.gguf");
        List<TensorReport> told = new ArrayList<>();
        QuantizationResult result = Quantizer.gguf(QuantizationType.Q2_K).threads(1).progress(told::add)
                .quantize(in, tmp.resolve("q2.gguf"));
        assertThat(told.stream().filter(t -> t.fallback() != null).toList()).as("fallbacks the listener saw")
                .isEqualTo(result.fallbacks());
    }

    /** A one-tensor llama file, {@code blk.0.ffn_up.weight}, 64 × 4, of {@code type} holding {@code values}. */
    private Path oneTensorFile(GgmlType type, float[] values) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data;
            if (type == GgmlType.F32) {
                data = arena.allocateFrom(ValueLayout.JAVA_FLOAT, values);
            } else {
                data = arena.allocate(type.byteSize(values.length));
                dev.isthmus.core.tensor.BlockFormats.require(type).quantize(values, 0, data, 0, values.length);
            }
            Path file = tmp.resolve("one-" + type + ".gguf");
            GgufWriter.create().put("general.architecture", GgufValue.string("llama"))
                    .put("llama.block_count", GgufValue.uint32(1))
                    .addTensor("blk.0.ffn_up.weight", type, new long[] {64, 4}, data).write(file);
            return file;
        }
    }

    @Test
    void refusesNaNInputNamingTensorRowAndElement() throws Exception {
        float[] values = new float[256];
        values[2 * 64 + 5] = Float.NaN;
        Path in = oneTensorFile(GgmlType.F32, values);
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q4_0).threads(1).quantize(in, tmp.resolve("x.gguf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blk.0.ffn_up.weight").hasMessageContaining("row 2 element 5")
                .hasMessageContaining("NaN");
        assertThat(tmp.resolve("x.gguf")).as("nothing written").doesNotExist();
    }

    @Test
    void refusesInfiniteInput() throws Exception {
        float[] values = new float[256];
        values[70] = Float.NEGATIVE_INFINITY;
        Path in = oneTensorFile(GgmlType.F32, values);
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q8_0).threads(1).quantize(in, tmp.resolve("x.gguf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blk.0.ffn_up.weight").hasMessageContaining("row 1 element 6")
                .hasMessageContaining("Infinity");
    }

    @Test
    void refusesValuesBeyondTheRangeOfF16ScalesAsLlamaCppDoes() throws Exception {
        float[] values = new float[256];
        values[3] = 1e30f;
        Path in = oneTensorFile(GgmlType.F32, values);
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q8_0).threads(1).quantize(in, tmp.resolve("x.gguf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blk.0.ffn_up.weight").hasMessageContaining("row 0")
                .hasMessageContaining("quantized data validation failed");
    }

    @Test
    void refusesAQuantizedInputTensorBeforeWritingAnything() throws Exception {
        Path in = oneTensorFile(GgmlType.Q8_0, new float[256]);
        Path out = tmp.resolve("x.gguf");
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q4_0).quantize(in, out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blk.0.ffn_up.weight").hasMessageContaining("Q8_0")
                .hasMessageContaining("only F32, F16 and BF16");
        assertThat(out).as("nothing written").doesNotExist();
    }

    @Test
    void refusesToRequantizeAQuantizedTensor() {
        Path in = SharedFiles.testdata("models/stories260K-q4_0.gguf");
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q4_K_M).quantize(in, tmp.resolve("x.gguf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q4_0")
                .hasMessageContaining("only F32, F16 and BF16");
    }

    @Test
    void typeNamesParseAsLlamaQuantizeWritesThem() {
        assertThat(QuantizationType.parse("q4_k_m")).isEqualTo(QuantizationType.Q4_K_M);
        assertThat(QuantizationType.parse("Q5_K")).as("q5_k means the _M recipe").isEqualTo(QuantizationType.Q5_K_M);
        assertThat(QuantizationType.parse("iq4_xs").fileType()).isEqualTo(30);
        assertThatThrownBy(() -> QuantizationType.parse("q7_x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'q7_x'").hasMessageContaining("q4_k_m").hasMessageContaining("iq4_xs");
        assertThatThrownBy(() -> QuantizationType.parse(" ")).as("blank name")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q4_0");
    }
}
