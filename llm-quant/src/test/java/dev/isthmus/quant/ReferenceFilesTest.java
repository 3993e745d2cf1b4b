package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.quant.testing.GgmlLibrary;
import dev.isthmus.quant.testing.SharedFiles;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The files llama.cpp's quantizer made from synth-llama256-f32.gguf and stories260K.gguf: every quantized
 * tensor decodes exactly as ggml decodes it, and close to the F32 original.
 */
class ReferenceFilesTest {
    /**
     * Root-mean-square decoding error relative to the tensor's RMS, per format: what each format's
     * precision allows on these weights: the largest measured over all files here (Q2_K 0.298, Q3_K 0.151,
     * Q4_0 0.096, Q4_1 0.088, Q4_K 0.072, IQ4_NL 0.077, IQ4_XS 0.077, Q5_0 0.050, Q5_1 0.042, Q5_K 0.036,
     * Q6_K 0.018, Q8_0 0.0055) plus 25%.
     */
    static final Map<GgmlType, Double> RELATIVE_RMS_ERROR = Map.ofEntries(
            Map.entry(GgmlType.Q2_K, 0.37), Map.entry(GgmlType.Q3_K, 0.19), Map.entry(GgmlType.Q4_0, 0.12),
            Map.entry(GgmlType.Q4_1, 0.11), Map.entry(GgmlType.Q4_K, 0.09), Map.entry(GgmlType.IQ4_NL, 0.096),
            Map.entry(GgmlType.IQ4_XS, 0.097), Map.entry(GgmlType.Q5_0, 0.063), Map.entry(GgmlType.Q5_1, 0.053),
            Map.entry(GgmlType.Q5_K, 0.046), Map.entry(GgmlType.Q6_K, 0.023), Map.entry(GgmlType.Q8_0, 0.007));

    static String original(String file) {
        return file.startsWith("synth") ? "models/synth-llama256-f32.gguf" : "models/stories260K.gguf";
    }

    @ParameterizedTest
    @ValueSource(strings = {"synth-llama256-q4_0", "synth-llama256-q6_k", "synth-llama256-q5_k_m",
        "synth-llama256-q4_k_m", "synth-llama256-q3_k_m", "synth-llama256-q2_k", "synth-llama256-iq4_nl",
        "synth-llama256-iq4_xs", "stories260K-q4_0", "stories260K-q4_1", "stories260K-q5_0", "stories260K-q5_1"})
    void everyQuantizedTensorDecodesAsGgmlDecodesIt(String name) throws Exception {
        GgmlLibrary ggml = GgmlLibrary.require();
        int compared = 0;
        try (GgufFile file = GgufFile.open(SharedFiles.testdata("models/" + name + ".gguf"))) {
            for (GgufTensorInfo info : file.tensors()) {
                if (!info.type().isQuantized() || info.type() == GgmlType.Q8_0) {
                    continue;
                }
                float[] ours = file.tensor(info.name()).toFloatArray();
                float[] theirs = ggml.toFloat(info.type(), file.tensorData(info.name()), ours.length);
                for (int i = 0; i < ours.length; i++) {
                    if (Float.floatToIntBits(ours[i]) != Float.floatToIntBits(theirs[i])) {
                        assertThat(ours[i]).as("%s %s (%s) element %d", name, info.name(), info.type(), i)
                                .isEqualTo(theirs[i]);
                    }
                }
                compared++;
            }
        }
        assertThat(compared).as("%s: quantized tensors compared", name).isGreaterThanOrEqualTo(6);
    }

    @ParameterizedTest
    @ValueSource(strings = {"synth-llama256-q4_0", "synth-llama256-q6_k", "synth-llama256-q5_k_m",
        "synth-llama256-q4_k_m", "synth-llama256-q3_k_m", "synth-llama256-q2_k", "synth-llama256-iq4_nl",
        "synth-llama256-iq4_xs", "stories260K-q4_0", "stories260K-q4_1", "stories260K-q5_0", "stories260K-q5_1"})
    void everyQuantizedTensorStaysCloseToTheF32Original(String name) throws Exception {
        try (GgufFile file = GgufFile.open(SharedFiles.testdata("models/" + name + ".gguf"));
             GgufFile f32 = GgufFile.open(SharedFiles.testdata(original(name)))) {
            for (GgufTensorInfo info : file.tensors()) {
                if (!info.type().isQuantized()) {
                    continue;
                }
                Tensor q = file.tensor(info.name());
                float[] decoded = q.toFloatArray();
                float[] reference = f32.tensor(info.name()).toFloatArray();
                double err = 0;
                double norm = 0;
                for (int i = 0; i < reference.length; i++) {
                    err += (decoded[i] - reference[i]) * (double) (decoded[i] - reference[i]);
                    norm += reference[i] * (double) reference[i];
                }
                double relative = Math.sqrt(err / norm);
                assertThat(relative).as("%s %s (%s): relative RMS error", name, info.name(), info.type())
                        .isLessThan(RELATIVE_RMS_ERROR.get(info.type()));
            }
        }
    }
}
