package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.quant.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
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
                .hasMessageContaining("q4_k_m");
    }
}
