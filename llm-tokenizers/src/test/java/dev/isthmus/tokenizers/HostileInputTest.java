package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Inputs meant to break a tokenizer: long runs, huge texts, invalid UTF-16, control characters, bad ids. */
class HostileInputTest {
    static Stream<String> byteLevel() {
        return Stream.of("gpt2", "llama3", "qwen3");
    }

    static Stream<String> all() {
        return Stream.of("gpt2", "llama3", "qwen3", "all-minilm-l6-v2");
    }

    @ParameterizedTest
    @MethodSource("byteLevel")
    void hundredThousandSpacesEncodeInLinearTimeAndRoundTrip(String name) {
        Tokenizer tok = SharedTestData.huggingFace(name);
        for (String text : new String[] {" ".repeat(100_000), " ".repeat(100_000) + "x", "a" + "\n".repeat(100_000)}) {
            int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> tok.encode(text, EncodeOptions.PLAIN_TEXT));
            assertThat(tok.decode(ids)).as("%s round trip of a %d-char run", name, text.length()).isEqualTo(text);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "7", "!", "中", "🦙"})
    void hundredThousandRepeatsOfOneCharacterAreNotQuadratic(String unit) {
        Tokenizer tok = SharedTestData.huggingFace("llama3");
        String text = unit.repeat(100_000);
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> tok.encode(text, EncodeOptions.PLAIN_TEXT));
        assertThat(tok.decode(ids)).as("round trip of %s x 100000", unit).isEqualTo(text);
    }

    @ParameterizedTest
    @MethodSource("all")
    void tenMegabytesEncodeWithinSeconds(String name) {
        Tokenizer tok = SharedTestData.huggingFace(name);
        String text = "The quick brown fox, 12345 jumps; über 東京 🦙\n\t ".repeat(220_000);
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> tok.encode(text, EncodeOptions.PLAIN_TEXT));
        assertThat(ids.length).as("%s tokens of %d chars", name, text.length()).isGreaterThan(text.length() / 10);
    }

    @ParameterizedTest
    @MethodSource("all")
    void loneSurrogatesAreEncodedAsReplacementCharacters(String name) {
        Tokenizer tok = SharedTestData.huggingFace(name);
        assertThat(tok.encode("a\uD83Db\uDC00c\uD83D", EncodeOptions.PLAIN_TEXT)).as(name)
                .containsExactly(tok.encode("a\uFFFDb\uFFFDc\uFFFD", EncodeOptions.PLAIN_TEXT));
    }

    @ParameterizedTest
    @MethodSource("byteLevel")
    void controlCharactersRoundTrip(String name) {
        Tokenizer tok = SharedTestData.huggingFace(name);
        String text = "\u0000\u0001\u0007\u001b[0m\u007f\u0085\u200b\ufeff";
        assertThat(tok.decode(tok.encode(text, EncodeOptions.PLAIN_TEXT))).as(name).isEqualTo(text);
    }

    @ParameterizedTest
    @MethodSource("all")
    void decodingAnUnknownIdNamesIt(String name) {
        Tokenizer tok = SharedTestData.huggingFace(name);
        int bad = tok.vocabularySize() + 17;
        assertThatThrownBy(() -> tok.decode(new int[] {0, bad})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(String.valueOf(bad));
        assertThatThrownBy(() -> tok.decode(new int[] {-1})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }
}
