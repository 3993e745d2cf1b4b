package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The public surface on the real tokenizer files: look-ups, special tokens and their configuration,
 * pair templates, options and concurrency. Expected ids are those the files themselves assign.
 */
class TokenizerApiTest {
    private static Tokenizer withConfig(String name) throws IOException {
        return HuggingFaceTokenizerLoader.load(SharedTestData.require("testdata/tokenizers/" + name + ".tokenizer.json"),
                SharedTestData.require("testdata/tokenizers/" + name + ".tokenizer_config.json"));
    }

    @Test
    void tokenAndIdLookUpsAreInverse() {
        Tokenizer gpt2 = SharedTestData.huggingFace("gpt2");
        assertThat(gpt2.tokenToId("Ġthe")).hasValue(262);
        assertThat(gpt2.idToToken(262)).isEqualTo("Ġthe");
        assertThat(gpt2.tokenToId("no such token")).isEmpty();
        assertThat(gpt2.vocabularySize()).isEqualTo(50257);
    }

    @Test
    void llama3ConfigNamesBosEosAndEndOfTurn() throws IOException {
        Tokenizer tok = withConfig("llama3");
        assertThat(tok.bosTokenId()).as("<|begin_of_text|>").hasValue(128000);
        assertThat(tok.eosTokenId()).as("<|end_of_text|>").hasValue(128001);
        assertThat(tok.eotTokenId()).as("<|eot_id|>").hasValue(128009);
        assertThat(tok.isEndOfGeneration(128009)).isTrue();
        assertThat(tok.endOfGenerationIds()).containsExactly(128001, 128009);
        assertThat(tok.isSpecial(128009)).isTrue();
        assertThat(tok.isSpecial(15339)).as("'hello' is ordinary").isFalse();
    }

    @Test
    void qwenConfigHasNoBosAndEndsAtImEnd() throws IOException {
        Tokenizer tok = withConfig("qwen3");
        assertThat(tok.bosTokenId()).as("bos_token is null in the config").isEmpty();
        assertThat(tok.eosTokenId()).as("<|im_end|>").hasValue(151645);
        assertThat(tok.paddingTokenId()).as("<|endoftext|>").hasValue(151643);
        assertThat(tok.addsPrefixToken()).isFalse();
    }

    @Test
    void bertAddsClsAndSepAndKnowsItsSpecialTokens() {
        Tokenizer bert = SharedTestData.huggingFace("all-minilm-l6-v2");
        int[] plain = bert.encode("hello world", EncodeOptions.PLAIN_TEXT);
        assertThat(bert.encode("hello world")).as("[CLS] hello world [SEP]")
                .containsExactly(IntStream.concat(IntStream.concat(IntStream.of(101), Arrays.stream(plain)),
                        IntStream.of(102)).toArray());
        assertThat(bert.unknownTokenId()).hasValue(100);
        assertThat(bert.maskTokenId()).hasValue(103);
        assertThat(bert.paddingTokenId()).hasValue(0);
    }

    @Test
    void bertPairTemplateIsClsASepBSep() {
        Tokenizer bert = SharedTestData.huggingFace("all-minilm-l6-v2");
        int[] a = bert.encode("how old are you?", EncodeOptions.PLAIN_TEXT);
        int[] b = bert.encode("I am six.", EncodeOptions.PLAIN_TEXT);
        int[] expected = java.util.stream.Stream.of(new int[] {101}, a, new int[] {102}, b, new int[] {102})
                .flatMapToInt(Arrays::stream).toArray();
        assertThat(bert.encodePair("how old are you?", "I am six.", EncodeOptions.DEFAULT)).containsExactly(expected);
    }

    @Test
    void bertWordLongerThanTheLimitIsUnknown() {
        Tokenizer bert = SharedTestData.huggingFace("all-minilm-l6-v2");
        assertThat(bert.encode("a".repeat(101), EncodeOptions.PLAIN_TEXT)).containsExactly(100);
        assertThat(bert.encode("a".repeat(100), EncodeOptions.PLAIN_TEXT)).doesNotContain(100);
    }

    @Test
    void bertStripsAccentsAndLowerCases() {
        Tokenizer bert = SharedTestData.huggingFace("all-minilm-l6-v2");
        assertThat(bert.encode("CRÈME Brûlée", EncodeOptions.PLAIN_TEXT))
                .containsExactly(bert.encode("creme brulee", EncodeOptions.PLAIN_TEXT));
    }

    @Test
    void bertDecodeJoinsContinuationsAndCleansPunctuation() {
        Tokenizer bert = SharedTestData.huggingFace("all-minilm-l6-v2");
        assertThat(bert.decode(bert.encode("Tokenization is hard, right?", EncodeOptions.PLAIN_TEXT)))
                .isEqualTo("tokenization is hard, right?");
    }

    @Test
    void specialTokenTextIsPlainTextUnlessParsed() {
        Tokenizer gpt2 = SharedTestData.huggingFace("gpt2");
        assertThat(gpt2.encode("<|endoftext|>", new EncodeOptions(false, true))).containsExactly(50256);
        assertThat(gpt2.encode("<|endoftext|>", EncodeOptions.PLAIN_TEXT)).as("spelled out").doesNotContain(50256)
                .hasSizeGreaterThan(1);
    }

    @Test
    void nonSpecialAddedTokensAreAlwaysRecognised() {
        Tokenizer qwen = SharedTestData.huggingFace("qwen3");
        int think = qwen.tokenToId("<think>").orElseThrow();
        assertThat(qwen.encode("<think>", EncodeOptions.PLAIN_TEXT)).containsExactly(think);
    }

    @Test
    void decodeCanSkipSpecialTokens() {
        Tokenizer qwen = SharedTestData.huggingFace("qwen3");
        int[] ids = qwen.encode("<|im_start|>user\nhi<|im_end|>", EncodeOptions.DEFAULT);
        assertThat(qwen.decode(ids)).isEqualTo("<|im_start|>user\nhi<|im_end|>");
        assertThat(qwen.decode(ids, true)).isEqualTo("user\nhi");
    }

    @Test
    void idToTokenRejectsUnknownIds() {
        Tokenizer gpt2 = SharedTestData.huggingFace("gpt2");
        assertThatThrownBy(() -> gpt2.idToToken(50257)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("50257");
    }

    @Test
    void concurrentEncodingGivesTheSameIdsAsSequential() throws IOException {
        Tokenizer tok = SharedTestData.huggingFace("llama3");
        List<String> texts = SharedTestData.readInp(SharedTestData.require("testdata/vectors/llama-bpe.inp"));
        List<int[]> sequential = texts.stream().map(t -> tok.encode(t, EncodeOptions.PLAIN_TEXT)).toList();
        for (int round = 0; round < 20; round++) {
            List<int[]> parallel = texts.parallelStream().map(t -> tok.encode(t, EncodeOptions.PLAIN_TEXT)).toList();
            for (int i = 0; i < texts.size(); i++) {
                assertThat(parallel.get(i)).as("text %d", i).containsExactly(sequential.get(i));
            }
        }
    }
}
