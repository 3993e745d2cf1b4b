package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link StreamingDecoder} emits whole characters only. */
class StreamingDecoderTest {
    private static List<String> stream(Tokenizer tok, int[] ids) {
        StreamingDecoder decoder = tok.newStreamingDecoder(false);
        List<String> out = new ArrayList<>();
        for (int id : ids) {
            out.add(decoder.push(id));
        }
        out.add(decoder.finish());
        return out;
    }

    @Test
    void emojiSplitOverByteLevelTokensComesOutWhole() {
        Tokenizer tok = SharedTestData.huggingFace("gpt2");
        int[] ids = tok.encode("a🦙b", EncodeOptions.PLAIN_TEXT);
        assertThat(ids.length).as("GPT-2 spells 🦙 with several tokens").isGreaterThan(3);
        List<String> pieces = stream(tok, ids);
        assertThat(pieces).as("no piece holds half a character").noneMatch(p -> p.contains("\uFFFD"))
                .contains("a", "🦙", "b");
        assertThat(String.join("", pieces)).isEqualTo("a🦙b");
    }

    @Test
    void sentencePieceByteFallbackComesOutWhole() {
        Map<String, Object> md = TinyVocabularies.sentencePiece();
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        int[] ids = tok.encode("hé", EncodeOptions.PLAIN_TEXT);
        assertThat(stream(tok, ids)).as("▁h, then nothing for 0xC3, then é for 0xA9, then nothing at the end")
                .containsExactly(" h", "", "é", "");
    }

    @Test
    void skipsSpecialTokensWhenAsked() {
        Tokenizer tok = SharedTestData.huggingFace("qwen3");
        int[] ids = tok.encode("<|im_start|>hi<|im_end|>", new EncodeOptions(false, true));
        StreamingDecoder decoder = tok.newStreamingDecoder(true);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(decoder.push(id));
        }
        assertThat(sb.toString()).isEqualTo("hi");
    }

    @Test
    void unfinishedCharacterAtTheEndBecomesReplacementCharacter() {
        Map<String, Object> md = TinyVocabularies.sentencePiece();
        Tokenizer tok = GgufTokenizerLoader.fromMetadata(md);
        StreamingDecoder decoder = tok.newStreamingDecoder(false);
        assertThat(decoder.push(TinyVocabularies.id(md, "<0xE2>"))).isEmpty();
        assertThat(decoder.hasPending()).isTrue();
        assertThat(decoder.finish()).isEqualTo("\uFFFD");
    }

    @Test
    void invalidBytesAreReleasedInsteadOfHeldForever() {
        byte[] bytes = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80};
        assertThat(StreamingDecoder.completePrefix(bytes, 4)).as("stray continuation bytes are complete (as U+FFFD)")
                .isEqualTo(4);
        byte[] partial = {'a', (byte) 0xF0, (byte) 0x9F, (byte) 0xA6};
        assertThat(StreamingDecoder.completePrefix(partial, 4)).as("3 of 4 bytes of an emoji wait").isEqualTo(1);
    }
}
