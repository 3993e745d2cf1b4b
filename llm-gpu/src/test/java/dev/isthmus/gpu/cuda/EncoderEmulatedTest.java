package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.encoder.EncoderBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The BERT encoder (MiniLM) on the cuda backend — its projections multiplied on the device through {@code
 * Backend.linear} — run by the emulated driver: sentence embeddings must have cosine ≥ 0.9999 with the CPU
 * backend's.
 */
class EncoderEmulatedTest {
    @BeforeAll
    static void emulate() {
        EmulatedDriver.load();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"all-minilm-l6-v2-f16.gguf", "all-minilm-l6-v2-q8_0.gguf"})
    void embeddingsMatchTheCpuBackend(String name) {
        Path file = CudaForwardEmulatedTest.model(name);
        List<String> texts = List.of("The cat sat on the mat.", "GPUs multiply matrices quickly.",
                "A completely different sentence about the weather in Lisbon in November.");
        long before = EmulatedDriver.liveBytes();
        try (Encoder cpu = new EncoderBuilder().model(file).backend("cpu").threads(1).build();
             Encoder gpu = new EncoderBuilder().model(file).backend("cuda").build()) {
            List<float[]> a = cpu.embed(texts);
            List<float[]> b = gpu.embed(texts);
            for (int i = 0; i < texts.size(); i++) {
                assertThat(cosine(a.get(i), b.get(i))).as("cosine of \"%s\"", texts.get(i)).isGreaterThanOrEqualTo(0.9999);
            }
        }
        assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing the encoder").isEqualTo(before);
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
