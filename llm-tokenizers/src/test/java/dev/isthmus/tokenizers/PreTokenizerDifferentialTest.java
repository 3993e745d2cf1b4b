package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hand-written scanners against the regular expressions they replace, run by java.util.regex on
 * random text built from the characters the patterns treat differently.
 */
class PreTokenizerDifferentialTest {
    /** Letters, digits, other numbers, all kinds of whitespace, punctuation, apostrophes, CJK, emoji. */
    private static final String[] ALPHABET = {
        "a", "Z", "é", "ß", "я", "中", "s", "t", "re", "ve", "m", "ll", "d", "S", "T", "RE", "Ll", "D",
        "0", "7", "½", "٣", "Ⅷ", " ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2003", "\u000b",
        "'", "'", "!", ".", ",", "-", "(", "\"", "_", "@", "\u0000", "\u001f", "🦙", "😀", "\u200d", "\u0301",
    };

    static Stream<Arguments> scanners() {
        return Stream.of(
                Arguments.of("gpt-2", new Gpt2PreTokenizer(), Gpt2PreTokenizer.PATTERN),
                Arguments.of("llama3", new Llama3PreTokenizer(3), Llama3PreTokenizer.LLAMA3_PATTERN),
                Arguments.of("qwen2", new Llama3PreTokenizer(1), Llama3PreTokenizer.QWEN2_PATTERN));
    }

    private static List<String> words(PreTokenizer p, String text) {
        IntList ends = new IntList();
        p.split(text, 0, text.length(), ends);
        List<String> words = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < ends.size(); i++) {
            words.add(text.substring(start, ends.get(i)));
            start = ends.get(i);
        }
        return words;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scanners")
    void scannerSplitsRandomTextLikeTheRegex(String name, PreTokenizer scanner, String pattern) {
        PreTokenizer regex = new RegexPreTokenizer(pattern, "test");
        Random random = new Random(42);
        for (int round = 0; round < 3000; round++) {
            StringBuilder sb = new StringBuilder();
            int length = random.nextInt(24);
            for (int i = 0; i < length; i++) {
                sb.append(ALPHABET[random.nextInt(ALPHABET.length)]);
            }
            String text = sb.toString();
            assertThat(words(scanner, text)).as("%s words of \"%s\"", name, text.replace("\n", "\\n"))
                    .isEqualTo(words(regex, text));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scanners")
    void scannerIsLinearOnAHugeWhitespaceRun(String name, PreTokenizer scanner, String pattern) {
        String text = " ".repeat(200_000) + "x" + "\n ".repeat(100_000) + "y" + " \t".repeat(100_000);
        List<String> words = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> words(scanner, text));
        assertThat(String.join("", words)).as("%s words concatenate to the text", name).isEqualTo(text);
    }

    @Test
    void llama3TakesDigitsThreeAtATimeAndQwen2OneAtATime() {
        assertThat(words(new Llama3PreTokenizer(3), "1234567")).as("llama3").containsExactly("123", "456", "7");
        assertThat(words(new Llama3PreTokenizer(1), "123")).as("qwen2").containsExactly("1", "2", "3");
    }
}
