package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Broken, hostile and unsupported {@code tokenizer.json} files fail with a message naming the field. */
class MalformedTokenizerJsonTest {
    private static final String VALID = TinyVocabularies.byteLevelJson();

    private static void assertRejected(String json, String... fragments) {
        assertThatThrownBy(() -> HuggingFaceTokenizerLoader.fromJson(json, null))
                .isInstanceOf(TokenizerFormatException.class)
                .satisfies(e -> {
                    for (String f : fragments) {
                        assertThat(e.getMessage()).as("message names %s", f).contains(f);
                    }
                });
    }

    @Test
    void theMinimalFileLoadsAndMerges() {
        Tokenizer tok = HuggingFaceTokenizerLoader.fromJson(VALID, null);
        assertThat(tok.encode("abc abd<|end|>", EncodeOptions.DEFAULT)).as("abc merges fully; ' ', a, b, d stay bytes")
                .containsExactly(257, ' ', 256, 'd', 258);
    }

    @Test
    void aRepeatedMergeTakesItsLastRankAsHuggingFaceDoes() {
        // HF tokenizers (ref hf-tokenize) gives [a, bc] for "abc" with merges [a b, b c, a b]: the map keeps rank 2.
        String json = VALID.replace("\"ab\":256,\"abc\":257", "\"ab\":256,\"abc\":257,\"bc\":258")
                .replace("[\"a b\", \"ab c\"]", "[\"a b\", \"b c\", \"a b\"]");
        Tokenizer tok = HuggingFaceTokenizerLoader.fromJson(json, null);
        assertThat(tok.encode("abc", EncodeOptions.PLAIN_TEXT)).containsExactly('a', 258);
    }

    @Test
    void invalidJsonIsReported() {
        assertRejected("{\"model\": ", "not valid JSON");
    }

    @Test
    void missingModelIsNamed() {
        assertRejected("{\"added_tokens\": []}", "model");
    }

    @Test
    void unsupportedModelTypeIsNamed() {
        assertRejected(VALID.replace("\"type\": \"BPE\"", "\"type\": \"Unigram\""), "model.type", "Unigram");
    }

    @Test
    void vocabOfTheWrongTypeIsNamed() {
        assertRejected(VALID.replaceFirst("\"vocab\": \\{", "\"vocab\": [], \"x\": {"), "model.vocab", "expected an object");
    }

    @Test
    void negativeIdIsNamed() {
        assertRejected(VALID.replace("\"abc\":257", "\"abc\":-5"), "model.vocab['abc']", "-5");
    }

    @Test
    void hugeIdIsRejectedBeforeAnyTableIsAllocated() {
        assertRejected(VALID.replace("\"abc\":257", "\"abc\":2000000000"), "model.vocab['abc']", "2000000000");
    }

    @Test
    void nonIntegerIdIsNamed() {
        assertRejected(VALID.replace("\"abc\":257", "\"abc\":\"seven\""), "model.vocab['abc']", "expected an integer");
    }

    @Test
    void mergeNamingAnUnknownTokenIsNamed() {
        assertRejected(VALID.replace("\"ab c\"", "\"ab q\""), "model.merges[1]", "'abq'");
    }

    @Test
    void mergeThatIsNotAPairIsNamed() {
        assertRejected(VALID.replace("\"ab c\"", "\"abc\""), "model.merges[1]");
    }

    @Test
    void unsupportedNormalizerIsNamed() {
        assertRejected(VALID.replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"Precompiled\"}"),
                "normalizer.type", "Precompiled");
    }

    @Test
    void replaceWithARegexIsNamed() {
        assertRejected(VALID.replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"Replace\", \"pattern\":"
                + " {\"Regex\": \" +\"}, \"content\": \" \"}"), "normalizer.pattern", "String");
    }

    @Test
    void unsupportedPreTokenizerIsNamed() {
        assertRejected(VALID.replace("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}",
                "{\"type\": \"Whitespace\"}"), "pre_tokenizer.type", "Whitespace");
    }

    @Test
    void metaspaceWithAByteLevelDecoderIsNamed() {
        assertRejected(VALID.replace("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}",
                "{\"type\": \"Metaspace\"}"), "decoder.type", "ByteLevel", "SentencePiece");
    }

    @Test
    void unsupportedDecoderIsNamed() {
        assertRejected(VALID.replace("\"decoder\": {\"type\": \"ByteLevel\"}", "\"decoder\": {\"type\": \"CTC\"}"),
                "decoder.type", "CTC");
    }

    @Test
    void unsupportedPostProcessorIsNamed() {
        assertRejected(VALID.replace("\"post_processor\": null", "\"post_processor\": {\"type\": \"Magic\"}"),
                "post_processor.type", "Magic");
    }

    @Test
    void templateNamingAnIdOutsideTheVocabularyIsRejected() {
        assertRejected(VALID.replace("\"post_processor\": null", """
                "post_processor": {"type": "TemplateProcessing",
                  "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                  "special_tokens": {"<x>": {"id": "<x>", "ids": [99999], "tokens": ["<x>"]}}}"""),
                "post_processor", "99999");
    }

    @Test
    void templateAddsItsSpecialTokens() {
        Tokenizer tok = HuggingFaceTokenizerLoader.fromJson(VALID.replace("\"post_processor\": null", """
                "post_processor": {"type": "TemplateProcessing",
                  "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"SpecialToken": {"id": "<|end|>", "type_id": 0}}],
                  "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [258], "tokens": ["<|end|>"]}}}"""), null);
        assertThat(tok.encode("abc", EncodeOptions.DEFAULT)).containsExactly(258, 257, 258);
        assertThat(tok.encode("abc", EncodeOptions.PLAIN_TEXT)).containsExactly(257);
    }

    @Test
    void addedTokenWithoutContentIsNamed() {
        assertRejected(VALID.replace("\"content\": \"<|end|>\",", ""), "added_tokens[0].content");
    }

    @Test
    void byteLevelVocabularyMissingAByteIsNamed() {
        assertRejected(VALID.replace("\"a\":97,", ""), "byte 0x61");
    }

    @Test
    void dropoutIsRefusedRatherThanIgnored() {
        assertRejected(VALID.replace("\"type\": \"BPE\",", "\"type\": \"BPE\", \"dropout\": 0.1,"), "model.dropout");
    }

    @Test
    void deeplyNestedJsonIsRejected() {
        assertRejected("[".repeat(100_000), "tokenizer.json");
    }
}
