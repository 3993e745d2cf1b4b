package dev.isthmus.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.testing.SharedTestData;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.HuggingFaceTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Byte-level BPE tokenizer.json files turned into {@code tokenizer.ggml.*} metadata: the GGUF tokenizer built
 * from that metadata must reproduce llama.cpp's test vectors for the vocabulary, as llama.cpp's own GGUF of it does.
 */
class HfTokenizerMetadataTest {

    @ParameterizedTest(name = "{0} -> pre {2}")
    @CsvSource({
        "gpt2.tokenizer.json, , gpt-2, gpt-2",
        "llama3.tokenizer.json, llama3.tokenizer_config.json, llama-bpe, llama-bpe",
        "qwen3.tokenizer.json, qwen3.tokenizer_config.json, qwen2, qwen2",
    })
    void convertedVocabularyEncodesLlamaCppsVectors(String json, String config, String pre, String vectors)
            throws Exception {
        Path tokenizerJson = SharedTestData.testdata("tokenizers/" + json);
        Path tokenizerConfig = config == null ? null : SharedTestData.testdata("tokenizers/" + config);
        int vocab = HuggingFaceTokenizerLoader.load(tokenizerJson).vocabularySize();
        Map<String, Object> md = plain(HfTokenizerMetadata.of(tokenizerJson, tokenizerConfig, null, vocab));
        assertThat(md).containsEntry("tokenizer.ggml.model", "gpt2").containsEntry("tokenizer.ggml.pre", pre);
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);

        List<String> texts = texts(Files.readString(SharedTestData.testdata("vectors/" + vectors + ".inp")));
        List<String> expected = Files.readAllLines(SharedTestData.testdata("vectors/" + vectors + ".out"));
        assertThat(texts).hasSameSizeAs(expected);
        for (int i = 0; i < texts.size(); i++) {
            String line = expected.get(i).trim();
            int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt).toArray();
            assertThat(tok.encode(texts.get(i), EncodeOptions.PLAIN_TEXT)).as("vector %d: %s", i, texts.get(i))
                    .containsExactly(ids);
        }
    }

    @Test
    void llama3KeepsSpecialTokensChatTemplateAndBos() throws Exception {
        Path json = SharedTestData.testdata("tokenizers/llama3.tokenizer.json");
        Path config = SharedTestData.testdata("tokenizers/llama3.tokenizer_config.json");
        Tokenizer hf = HuggingFaceTokenizerLoader.load(json, config);
        Map<String, Object> md = plain(HfTokenizerMetadata.of(json, config, null, hf.vocabularySize()));
        Tokenizer gguf = GgufTokenizerLoader.fromMetadata(md);
        String chat = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>";
        assertThat(gguf.encode(chat)).as("special tokens parsed, no second BOS").containsExactly(hf.encode(chat));
        assertThat(gguf.encode("Hello")).as("BOS added as the HF tokenizer adds it").containsExactly(hf.encode("Hello"));
        assertThat(gguf.eosTokenId()).isEqualTo(hf.eosTokenId());
        assertThat((String) md.get("tokenizer.chat_template")).contains("start_header_id");
        List<?> types = (List<?>) md.get("tokenizer.ggml.token_type");
        assertThat(types.get(hf.tokenToId("<|eot_id|>").orElseThrow())).as("special added token type").isEqualTo(3);
    }

    @Test
    void qwenKeepsNonSpecialAddedTokensUserDefined() throws Exception {
        Path json = SharedTestData.testdata("tokenizers/qwen3.tokenizer.json");
        Tokenizer hf = HuggingFaceTokenizerLoader.load(json);
        int padded = hf.vocabularySize() + 5;
        Map<String, Object> md = plain(HfTokenizerMetadata.of(json, null, null, padded));
        List<?> tokens = (List<?>) md.get("tokenizer.ggml.tokens");
        List<?> types = (List<?>) md.get("tokenizer.ggml.token_type");
        assertThat(tokens).as("padded to the embedding rows").hasSize(padded);
        assertThat(tokens.getLast()).isEqualTo("[PAD" + (padded - 1) + "]");
        assertThat(types.getLast()).isEqualTo(5);
        assertThat(types.get(hf.tokenToId("<think>").orElseThrow())).as("<think> is not special").isEqualTo(4);
        Tokenizer gguf = GgufTokenizerLoader.fromMetadata(md);
        String text = "<think>why</think> because";
        assertThat(gguf.encode(text, EncodeOptions.PLAIN_TEXT)).containsExactly(hf.encode(text, EncodeOptions.PLAIN_TEXT));
    }

    @Test
    void wordPieceHasNoDecoderVocabulary() {
        Path json = SharedTestData.testdata("tokenizers/all-minilm-l6-v2.tokenizer.json");
        assertThatThrownBy(() -> HfTokenizerMetadata.of(json, null, null, 30522))
                .isInstanceOf(CheckpointConversionException.class).hasMessageContaining("WordPiece");
    }

    @Test
    void vocabularyLargerThanTheEmbeddingIsRefused() {
        Path json = SharedTestData.testdata("tokenizers/gpt2.tokenizer.json");
        assertThatThrownBy(() -> HfTokenizerMetadata.of(json, null, null, 1000))
                .isInstanceOf(CheckpointConversionException.class).hasMessageContaining("1000 rows");
    }

    @Test
    void chatTemplateFileIsUsedWhenTheConfigHasNone(@TempDir Path dir) throws Exception {
        Path json = SharedTestData.testdata("tokenizers/gpt2.tokenizer.json");
        Path jinja = Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages }}");
        Map<String, GgufValue> md = HfTokenizerMetadata.of(json, null, jinja, 50257);
        assertThat(md.get("tokenizer.chat_template")).isEqualTo(GgufValue.string("{{ messages }}"));
    }

    static Map<String, Object> plain(Map<String, GgufValue> md) {
        Map<String, Object> out = new LinkedHashMap<>();
        md.forEach((k, v) -> out.put(k, v.plain()));
        return out;
    }

    static List<String> texts(String raw) {
        List<String> parts = new ArrayList<>(Arrays.asList(raw.split("\n__ggml_vocab_test__\n", -1)));
        if (!parts.isEmpty() && parts.getLast().isEmpty()) {
            parts.removeLast();
        }
        return parts;
    }
}
