package dev.isthmus.core.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.model.UnsupportedArchitectureException;
import dev.isthmus.core.testing.SharedTestData;
import org.junit.jupiter.api.Test;

class EncoderTest {

    @Test
    void erfMatchesTabulatedValues() {
        // Values from Abramowitz & Stegun, table 7.1; the approximation is good to ~1.2e-7.
        assertThat(BertModel.erf(0)).isCloseTo(0.0, within(2e-7));
        assertThat(BertModel.erf(0.5)).isCloseTo(0.5204998778130465, within(2e-7));
        assertThat(BertModel.erf(1.0)).isCloseTo(0.8427007929497149, within(2e-7));
        assertThat(BertModel.erf(2.0)).isCloseTo(0.9953222650189527, within(2e-7));
        assertThat(BertModel.erf(2.5)).isCloseTo(0.9995930479825550, within(2e-7));
        assertThat(BertModel.erf(3.0)).isCloseTo(0.9999779095030014, within(2e-7));
        assertThat(BertModel.erf(-1.0)).isCloseTo(-0.8427007929497149, within(2e-7));
    }

    @Test
    void decoderFileIsNotAnEncoder() {
        assertThatThrownBy(() -> Llm.encoder().model(SharedTestData.testdata("models/stories260K.gguf")).build())
                .isInstanceOf(UnsupportedArchitectureException.class).hasMessageContaining("llama")
                .hasMessageContaining("not an encoder");
    }

    @Test
    void overlongTextIsRefusedUnlessTruncationIsOn() {
        String longText = "word ".repeat(600);
        try (Encoder e = Llm.encoder().model(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf")).threads(1)
                .build()) {
            assertThatThrownBy(() -> e.embed(longText)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("512 positions");
        }
        try (Encoder e = Llm.encoder().model(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf")).threads(1)
                .truncate(true).build()) {
            int[] ids = e.tokens(longText);
            assertThat(ids).hasSize(512);
            assertThat(ids[511]).as("[SEP] kept at the end").isEqualTo(102);
            float[] v = e.embed(longText);
            double norm = 0;
            for (float f : v) {
                norm += f * f;
            }
            assertThat(norm).isCloseTo(1.0, within(1e-5));
        }
    }

    @Test
    void closedEncoderRefusesWorkAndMlmIsAbsentFromMiniLm() {
        Encoder e = Llm.encoder().model(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf")).threads(1).build();
        assertThat(e.hasMlmHead()).isFalse();
        assertThatThrownBy(() -> e.fillMask("a [MASK] b", 3)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("masked-language-model head");
        e.close();
        assertThatThrownBy(() -> e.embed("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
