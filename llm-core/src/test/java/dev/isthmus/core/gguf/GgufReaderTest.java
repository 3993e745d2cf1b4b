package dev.isthmus.core.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Facts about the shared test models, as documented in shared/testdata/README.md. */
class GgufReaderTest {

    @Test
    void readsStories260KHyperParameters() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"))) {
            assertThat(gguf.version()).isEqualTo(3);
            ModelMetadata m = gguf.modelMetadata();
            assertThat(m.architecture()).isEqualTo("llama");
            assertThat(m.embeddingLength()).isEqualTo(64);
            assertThat(m.blockCount()).isEqualTo(5);
            assertThat(m.headCount()).isEqualTo(8);
            assertThat(m.headCountKv()).isEqualTo(4);
            assertThat(m.feedForwardLength()).isEqualTo(172);
            assertThat(m.contextLength()).isEqualTo(512);
            List<?> tokens = (List<?>) gguf.metadata().get("tokenizer.ggml.tokens");
            assertThat(tokens).hasSize(512);
            assertThat(tokens.get(1)).isEqualTo("<s>");
            assertThat(gguf.tensors()).hasSize(48);
        }
    }

    @Test
    void tensorsAreMappedWithTheirShapesOutermostFirst() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"))) {
            Tensor embeddings = gguf.tensor("token_embd.weight");
            assertThat(embeddings.type()).isEqualTo(GgmlType.F32);
            assertThat(embeddings.shape()).containsExactly(512, 64);
            assertThat(embeddings.segment().isMapped()).as("weights must be mmap'ed, not copied").isTrue();
            assertThat(embeddings.segment().isReadOnly()).isTrue();
            assertThat(gguf.tensor("blk.0.ffn_down.weight").shape()).containsExactly(64, 172);
        }
    }

    @Test
    void version1FileGivesTheSameTensorsAsVersion3() throws Exception {
        try (GgufFile v1 = GgufFile.open(SharedTestData.testdata("models/stories260K-gguf-v1.gguf"));
             GgufFile v3 = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"))) {
            assertThat(v1.version()).isEqualTo(1);
            assertThat(v1.tensors()).hasSameSizeAs(v3.tensors());
            for (GgufTensorInfo t : v3.tensors()) {
                GgufTensorInfo other = v1.tensorInfo(t.name()).orElseThrow();
                assertThat(other.ggufDims()).as(t.name()).containsExactly(t.ggufDims());
                assertThat(v1.tensorData(t.name()).mismatch(v3.tensorData(t.name()))).as(t.name()).isEqualTo(-1L);
            }
            for (Map.Entry<String, GgufValue> e : v1.values().entrySet()) {
                assertThat(v3.values().get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
            }
        }
    }

    @Test
    void closedFileRefusesTensorAccess() throws Exception {
        GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"));
        Tensor t = gguf.tensor("output_norm.weight");
        gguf.close();
        gguf.close();
        assertThat(gguf.isOpen()).isFalse();
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> gguf.tensor("output_norm.weight")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void missingMetadataKeyIsNamed() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"))) {
            assertThatThrownBy(() -> gguf.modelMetadata().requireInt("llama.expert_count"))
                    .isInstanceOf(MissingMetadataException.class)
                    .hasMessageContaining("llama.expert_count").hasMessageContaining("missing");
            assertThatThrownBy(() -> gguf.modelMetadata().requireInt("general.architecture"))
                    .isInstanceOf(MissingMetadataException.class).hasMessageContaining("integer");
        }
    }

    @Test
    void unknownTensorNameIsReported() throws Exception {
        Path path = SharedTestData.testdata("models/stories260K.gguf");
        try (GgufFile gguf = GgufFile.open(path)) {
            assertThatThrownBy(() -> gguf.tensor("nope")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'nope'");
        }
    }

    @Test
    void everySharedModelOpensAndItsTensorsFitTheFile() throws Exception {
        List<Path> models = SharedTestData.ggufModels();
        org.junit.jupiter.api.Assumptions.assumeFalse(models.isEmpty(), "../shared/testdata/models is absent");
        for (Path model : models) {
            try (GgufFile gguf = GgufFile.open(model)) {
                assertThat(gguf.tensors()).as(model.toString()).isNotEmpty();
                for (GgufTensorInfo t : gguf.tensors()) {
                    assertThat(gguf.dataOffset() + t.offset() + t.byteSize()).isLessThanOrEqualTo(
                            java.nio.file.Files.size(model));
                }
            }
        }
    }
}
