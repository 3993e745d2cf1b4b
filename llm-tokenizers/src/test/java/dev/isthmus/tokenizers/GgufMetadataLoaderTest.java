package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link GgufTokenizerLoader} on small hand-made metadata maps. */
class GgufMetadataLoaderTest {
    private final Map<String, Object> md = TinyVocabularies.sentencePiece();

    private int id(String token) {
        return TinyVocabularies.id(md, token);
    }

    @Test
    void sentencePieceAddsBosAndDummyPrefixByDefault() {
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.encode("hello", EncodeOptions.DEFAULT)).as("BOS then ▁hello")
                .containsExactly(1, id("▁hello"));
    }

    @Test
    void sentencePieceFallsBackToUtf8BytesForUnknownCharacters() {
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.encode("hé", EncodeOptions.PLAIN_TEXT)).as("é is U+00E9, bytes C3 A9")
                .containsExactly(id("▁h"), id("<0xC3>"), id("<0xA9>"));
    }

    @Test
    void sentencePieceDecodeDropsTheDummyPrefixAndJoinsBytes() {
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.decode(new int[] {id("▁h"), id("<0xC3>"), id("<0xA9>"), id("▁hello")})).isEqualTo("hé hello");
    }

    @Test
    void controlTokenTextIsParsedOnlyWhenAskedButUserDefinedAlways() {
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.encode("<|ctl|>", EncodeOptions.PLAIN_TEXT)).as("control token as text")
                .doesNotContain(id("<|ctl|>"));
        assertThat(tok.encode("<|ctl|>", new EncodeOptions(false, true))).as("control token parsed")
                .containsExactly(id("<|ctl|>"));
        assertThat(tok.encode("<|user|>", EncodeOptions.PLAIN_TEXT)).as("user-defined token always parsed")
                .containsExactly(id("<|user|>"));
    }

    @Test
    void addBosTokenFalseIsHonoured() {
        md.put("tokenizer.ggml.add_bos_token", false);
        assertThat(GgufTokenizerLoader.fromMetadata(md).encode("hello", EncodeOptions.DEFAULT))
                .containsExactly(id("▁hello"));
    }

    @Test
    void acceptsAnyBoxedNumberForIdsAndScores() {
        md.put("tokenizer.ggml.bos_token_id", (short) 1);
        md.put("tokenizer.ggml.eos_token_id", 2L);
        md.put("tokenizer.ggml.unknown_token_id", 0.0);
        md.put("tokenizer.ggml.add_eos_token", true);
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.encode("hello", EncodeOptions.DEFAULT)).containsExactly(1, id("▁hello"), 2);
        assertThat(tok.eosTokenId()).hasValue(2);
    }

    @Test
    void missingTokensNameTheKey() {
        md.remove("tokenizer.ggml.tokens");
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("tokenizer.ggml.tokens");
    }

    @Test
    void wrongTypeNamesTheKey() {
        md.put("tokenizer.ggml.scores", "not a list");
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("tokenizer.ggml.scores");
    }

    @Test
    void scoreCountMustMatchTokenCount() {
        md.put("tokenizer.ggml.scores", List.of(1.0f, 2.0f));
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("tokenizer.ggml.scores").hasMessageContaining("2 entries");
    }

    @Test
    void tokenIdOutsideTheVocabularyIsRejected() {
        md.put("tokenizer.ggml.bos_token_id", 1_000_000);
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("bos_token_id").hasMessageContaining("1000000");
    }

    @Test
    void unsupportedModelIsNamed() {
        md.put("tokenizer.ggml.model", "t5");
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("'t5'");
    }

    @Test
    void unsupportedPreTokenizerIsNamed() {
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "falcon");
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("'falcon'");
    }

    @Test
    void mergeNamingAnUnknownTokenIsRejected() {
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "gpt-2");
        List<String> bytes = new java.util.ArrayList<>();
        for (int b = 0; b < 256; b++) {
            bytes.add(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        md.put("tokenizer.ggml.tokens", bytes);
        md.remove("tokenizer.ggml.token_type");
        md.remove("tokenizer.ggml.bos_token_id");
        md.remove("tokenizer.ggml.eos_token_id");
        md.remove("tokenizer.ggml.unknown_token_id");
        md.put("tokenizer.ggml.merges", List.of("a b", "x nope"));
        assertThatThrownBy(() -> GgufTokenizerLoader.fromMetadata(md)).isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("merges[0]").hasMessageContaining("'ab'");
    }

    @Test
    void endOfTurnTokenStoredAsNormalIsPromotedToControlAsLlamaCppDoes() {
        @SuppressWarnings("unchecked")
        List<Object> tokens = (List<Object>) md.get("tokenizer.ggml.tokens");
        @SuppressWarnings("unchecked")
        List<Object> scores = (List<Object>) md.get("tokenizer.ggml.scores");
        @SuppressWarnings("unchecked")
        List<Object> types = (List<Object>) md.get("tokenizer.ggml.token_type");
        tokens.add("<|im_end|>");
        scores.add(0f);
        types.add(1);
        int imEnd = tokens.size() - 1;
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.encode("<|im_end|>", EncodeOptions.PLAIN_TEXT)).as("not parsed from plain text")
                .doesNotContain(imEnd);
        assertThat(tok.encode("<|im_end|>", new EncodeOptions(false, true))).containsExactly(imEnd);
        assertThat(tok.eotTokenId()).hasValue(imEnd);
        assertThat(tok.isEndOfGeneration(imEnd)).isTrue();
    }

    @Test
    void phi3SpecialTokensSwallowTheWhitespaceAfterThem() {
        Tokenizer plain = GgufTokenizerLoader.fromMetadata(md);
        md.put("general.name", "Phi-3 mini");
        Tokenizer phi3 = GgufTokenizerLoader.fromMetadata(md);
        int user = id("<|user|>");
        assertThat(phi3.encode("<|user|>  hello", EncodeOptions.PLAIN_TEXT)).containsExactly(user, id("▁hello"));
        assertThat(plain.encode("<|user|>  hello", EncodeOptions.PLAIN_TEXT)).as("other models keep the spaces")
                .startsWith(user).hasSizeGreaterThan(2);
    }

    @Test
    void endOfGenerationSetFollowsLlamaCpp() {
        @SuppressWarnings("unchecked")
        List<Object> tokens = (List<Object>) md.get("tokenizer.ggml.tokens");
        @SuppressWarnings("unchecked")
        List<Object> scores = (List<Object>) md.get("tokenizer.ggml.scores");
        @SuppressWarnings("unchecked")
        List<Object> types = (List<Object>) md.get("tokenizer.ggml.token_type");
        for (String t : List.of("<|im_end|>", "<|file_sep|>", "<|im_start|>")) {
            tokens.add(t);
            scores.add(0f);
            types.add(4);
        }
        int imEnd = tokens.indexOf("<|im_end|>");
        int fileSep = tokens.indexOf("<|file_sep|>");
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        assertThat(tok.endOfGenerationIds()).as("EOS, <|im_end|> and the FIM file separator")
                .containsExactly(2, imEnd, fileSep);
        assertThat(tok.isEndOfGeneration(tokens.indexOf("<|im_start|>"))).isFalse();
    }
}
