package dev.isthmus.tokenizers;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Small hand-made vocabularies, as GGUF metadata maps, for tests that must not depend on shared files. */
final class TinyVocabularies {
    private TinyVocabularies() {
    }

    /**
     * A SentencePiece vocabulary: {@code <unk> <s> </s>}, the 256 byte tokens (ids 3..258), then
     * {@code ▁ h e l o ▁h ll llo ello ▁hello <|user|>(user-defined) <|ctl|>(control)} with scores favouring longer pieces.
     */
    static Map<String, Object> sentencePiece() {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Float> scores = new ArrayList<>(List.of(0f, 0f, 0f));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            scores.add(0f);
            types.add(6);
        }
        String[] pieces = {"▁", "h", "e", "l", "o", "▁h", "ll", "llo", "ello", "▁hello", "<|user|>", "<|ctl|>"};
        float[] pieceScores = {-1, -2, -2, -2, -2, -3, -1.5f, -1, -0.8f, -0.5f, 0, 0};
        for (int i = 0; i < pieces.length; i++) {
            tokens.add(pieces[i]);
            scores.add(pieceScores[i]);
            types.add(pieces[i].equals("<|user|>") ? 4 : pieces[i].equals("<|ctl|>") ? 3 : 1);
        }
        Map<String, Object> md = new HashMap<>();
        md.put("tokenizer.ggml.model", "llama");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.scores", scores);
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.bos_token_id", 1);
        md.put("tokenizer.ggml.eos_token_id", 2);
        md.put("tokenizer.ggml.unknown_token_id", 0);
        return md;
    }

    static int id(Map<String, Object> metadata, String token) {
        @SuppressWarnings("unchecked")
        List<String> tokens = (List<String>) metadata.get("tokenizer.ggml.tokens");
        int id = tokens.indexOf(token);
        if (id < 0) {
            throw new IllegalArgumentException(token);
        }
        return id;
    }

    /**
     * A minimal byte-level BPE {@code tokenizer.json}: the 256 byte chars (id = byte value), then
     * {@code "ab"} (256) and {@code "abc"} (257) with merges {@code a b} and {@code ab c}.
     */
    static String byteLevelJson() {
        StringBuilder vocab = new StringBuilder();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevelAlphabet.charOf(b);
            String json = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : String.valueOf(c);
            vocab.append('"').append(json).append("\":").append(b).append(',');
        }
        vocab.append("\"ab\":256,\"abc\":257");
        return """
                {"version": "1.0", "added_tokens": [{"id": 258, "content": "<|end|>", "special": true}],
                 "normalizer": null,
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                 "post_processor": null,
                 "decoder": {"type": "ByteLevel"},
                 "model": {"type": "BPE", "vocab": {%s}, "merges": ["a b", "ab c"]}}
                """.formatted(vocab);
    }
}
