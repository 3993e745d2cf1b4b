package dev.isthmus.core.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The file-type numbers against files llama.cpp's quantizer wrote (../shared/testdata). */
class LlamaFileTypeTest {

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-f16", "stories260K-q8_0", "stories260K-q5_0", "stories260K-q5_1",
        "stories260K-q4_0", "stories260K-q4_1", "synth-llama256-q6_k", "synth-llama256-iq4_nl",
        "synth-llama256-iq4_xs", "synth-llama256-bf16"})
    void matchesWhatLlamaCppWroteForUniformFiles(String name) throws Exception {
        Path file = SharedTestData.testdata("models/" + name + ".gguf");
        try (GgufFile gguf = GgufFile.open(file)) {
            GgmlType matrices = gguf.tensor("blk.0.attn_q.weight").type();
            assertThat((long) LlamaFileType.of(matrices)).as("%s (%s)", name, matrices)
                    .isEqualTo(gguf.modelMetadata().fileType().orElseThrow());
        }
    }

    @Test
    void typesOnlyMixedRecipesUseAreRefused() {
        assertThatThrownBy(() -> LlamaFileType.of(GgmlType.Q4_K)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q4_K");
    }
}
