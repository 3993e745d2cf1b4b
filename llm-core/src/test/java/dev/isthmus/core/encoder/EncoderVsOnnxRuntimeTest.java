package dev.isthmus.core.encoder;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.testing.SharedTestData;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Isthmus embeddings of all-MiniLM-L6-v2 against ONNX Runtime running the original ONNX model from the
 * Maven artifact (mean pooling over the tokens, then L2 norm), on the same token ids.
 */
class EncoderVsOnnxRuntimeTest {
    static final List<String> SENTENCES = List.of(
            "What a horrible day!", "The weather is lovely today.", "It's so sunny outside!",
            "He drove to the stadium.", "A man is playing a guitar.", "A woman is slicing an onion.",
            "The new movie is awesome.", "The cat sits outside.", "I love pasta with tomato sauce.",
            "Stock markets fell sharply on Monday.", "Quantum computers use qubits.",
            "The mitochondria is the powerhouse of the cell.", "Paris is the capital of France.",
            "How do I reset my password?", "Please restart the server before deploying.",
            "Java 25 finalised the foreign function and memory API.", "Tokenizers split text into pieces.",
            "", "a", "!!!", "Naïve café résumé", "東京は日本の首都です。", "Привет, как дела?",
            "Emoji 🤖 are tokenized too 🎉", "The quick brown fox jumps over the lazy dog.",
            "UPPER CASE TEXT IS LOWERED", "numbers 1234567890 and 3.14159", "e-mail: someone@example.com",
            "https://example.org/path?query=1", "tabs\tand\nnewlines", "   leading and trailing spaces   ",
            "A very long sentence that goes on and on, describing the many small details of a quiet afternoon "
                    + "spent reading in the garden while the birds sang and the bees moved between the flowers.",
            "Machine learning models need data.", "Retrieval augmented generation combines search and LLMs.",
            "Perplexity measures how surprised a model is.", "The GGUF format stores quantized tensors.",
            "She sells sea shells by the sea shore.", "To be, or not to be: that is the question.",
            "Water boils at 100 degrees Celsius.", "The train leaves at 6:45 pm from platform 9.",
            "I can't believe it's not butter!", "Don't count your chickens before they hatch.",
            "The committee postponed the vote.", "Photosynthesis converts light into chemical energy.",
            "My laptop battery drains quickly.", "Rust and Java both have strong type systems.",
            "The orchestra tuned their instruments.", "Vaccines train the immune system.",
            "He whispered a secret to his friend.", "The library closes at eight.",
            "Mount Everest is the highest mountain on Earth.", "Bananas are rich in potassium.");

    private static OrtEnvironment env;
    private static OrtSession session;

    @BeforeAll
    static void loadReference() throws Exception {
        env = OrtEnvironment.getEnvironment();
        try (InputStream in = EncoderVsOnnxRuntimeTest.class.getResourceAsStream("/all-minilm-l6-v2.onnx")) {
            session = env.createSession(in.readAllBytes(), new OrtSession.SessionOptions());
        }
    }

    @AfterAll
    static void closeReference() throws Exception {
        if (session != null) {
            session.close();
        }
    }

    static float[] reference(int[] ids) throws Exception {
        long[] input = new long[ids.length];
        long[] mask = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            input[i] = ids[i];
            mask[i] = 1;
        }
        long[] shape = {1, ids.length};
        try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(input), shape);
             OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
             OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            float[][][] hidden = (float[][][]) r.get(0).getValue();
            int d = hidden[0][0].length;
            float[] v = new float[d];
            for (float[] token : hidden[0]) {
                for (int j = 0; j < d; j++) {
                    v[j] += token[j] / ids.length;
                }
            }
            double norm = 0;
            for (float f : v) {
                norm += f * f;
            }
            for (int j = 0; j < d; j++) {
                v[j] /= (float) Math.sqrt(norm);
            }
            return v;
        }
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    @ParameterizedTest
    @CsvSource({"all-minilm-l6-v2-f16.gguf, 0.9999", "all-minilm-l6-v2-q8_0.gguf, 0.999"})
    void embeddingsMatchOnnxRuntime(String file, double minCosine) throws Exception {
        try (Encoder e = Llm.encoder().model(SharedTestData.testdata("models/" + file)).threads(2).build()) {
            List<float[]> ours = e.embed(SENTENCES);
            double worst = 1;
            for (int i = 0; i < SENTENCES.size(); i++) {
                double c = cosine(ours.get(i), reference(e.tokens(SENTENCES.get(i))));
                worst = Math.min(worst, c);
                assertThat(c).as("%s: cosine for \"%s\"", file, SENTENCES.get(i)).isGreaterThanOrEqualTo(minCosine);
            }
            System.out.printf("encoder %s: worst cosine vs ONNX Runtime over %d sentences = %.7f%n", file,
                    SENTENCES.size(), worst);
            // One at a time gives the same vectors as the batch.
            assertThat(cosine(e.embed(SENTENCES.get(3)), ours.get(3))).isGreaterThan(0.999999);
        }
    }
}
