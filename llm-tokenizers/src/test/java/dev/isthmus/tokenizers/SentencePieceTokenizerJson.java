package dev.isthmus.tokenizers;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Test-side converter: the SentencePiece vocabulary inside a GGUF file (tokens, scores, token types) to a
 * Hugging Face {@code tokenizer.json} of the shape transformers' {@code LlamaConverter} writes (BPE with
 * {@code byte_fallback} and {@code fuse_unk}), with merges derived as its {@code SentencePieceExtractor} does:
 * every split of every token into two vocabulary tokens, ordered within a token by the ids of the halves,
 * then all merges stably sorted by the score of the merged token, highest first.
 *
 * <p>Two shapes: {@link Shape#LEGACY} (Llama 2's own file: normalizer {@code Prepend("▁")} +
 * {@code Replace(" ", "▁")}, no pre-tokenizer, decoder {@code Replace}/{@code ByteFallback}/{@code Fuse}/{@code Strip})
 * and {@link Shape#METASPACE} (transformers' non-legacy conversion and Mistral-style files: no normalizer,
 * pre-tokenizer {@code Metaspace(prepend_scheme=first, split=false)}, decoder {@code Metaspace}) and
 * {@link Shape#METASPACE_SPLIT} (pre-tokenizer {@code Metaspace(prepend_scheme=always, split=true)}, each
 * {@code ▁} starting a word, with Llama 2's decoder).
 *
 * <p>{@code main(gguf, shape, out)} writes the file, so the expected ids in
 * {@code src/test/resources/reference-ids/} can be regenerated with {@code ref hf-tokenize} (see the README there).
 */
final class SentencePieceTokenizerJson {
    enum Shape { LEGACY, METASPACE, METASPACE_SPLIT }

    private static final ObjectMapper JSON = new ObjectMapper();

    private SentencePieceTokenizerJson() {
    }

    public static void main(String[] args) throws IOException {
        Files.writeString(Path.of(args[2]), build(Path.of(args[0]), Shape.valueOf(args[1])), StandardCharsets.UTF_8);
    }

    static String build(Path gguf, Shape shape) throws IOException {
        Map<String, Object> kv = readMetadata(gguf);
        @SuppressWarnings("unchecked")
        List<String> tokens = (List<String>) kv.get("tokenizer.ggml.tokens");
        @SuppressWarnings("unchecked")
        List<Float> scores = (List<Float>) kv.get("tokenizer.ggml.scores");
        @SuppressWarnings("unchecked")
        List<Integer> types = (List<Integer>) kv.get("tokenizer.ggml.token_type");
        return build(tokens, scores, types, shape);
    }

    static String build(List<String> tokens, List<Float> scores, List<Integer> types, Shape shape) {
        Map<String, Integer> vocab = new HashMap<>();
        for (int id = 0; id < tokens.size(); id++) {
            vocab.put(tokens.get(id), id); // Python's dict comprehension: the last id of a duplicate wins
        }
        record Merge(String left, String right, float score) {
        }
        List<Merge> merges = new ArrayList<>();
        for (int id = 0; id < tokens.size(); id++) {
            String piece = tokens.get(id);
            float score = types.get(id) == 3 || types.get(id) == 2 ? 0f : scores.get(id);
            List<Merge> local = new ArrayList<>();
            int[] cps = piece.codePoints().toArray();
            for (int k = 1; k < cps.length; k++) {
                String l = new String(cps, 0, k);
                String r = new String(cps, k, cps.length - k);
                if (vocab.containsKey(l) && vocab.containsKey(r)) {
                    local.add(new Merge(l, r, score));
                }
            }
            local.sort(Comparator.<Merge>comparingInt(m -> vocab.get(m.left())).thenComparingInt(m -> vocab.get(m.right())));
            merges.addAll(local);
        }
        merges.sort(Comparator.comparingDouble((Merge m) -> m.score()).reversed()); // stable, like Python's sorted

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < tokens.size(); id++) {
            if (types.get(id) == 2 || types.get(id) == 3) {
                added.addObject().put("id", id).put("content", tokens.get(id)).put("single_word", false)
                        .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        if (shape == Shape.LEGACY) {
            ArrayNode steps = root.putObject("normalizer").put("type", "Sequence").putArray("normalizers");
            steps.addObject().put("type", "Prepend").put("prepend", "▁");
            ObjectNode replace = steps.addObject().put("type", "Replace");
            replace.putObject("pattern").put("String", " ");
            replace.put("content", "▁");
            root.putNull("pre_tokenizer");
        } else if (shape == Shape.METASPACE) {
            root.putNull("normalizer");
            root.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁")
                    .put("prepend_scheme", "first").put("split", false);
        } else {
            root.putNull("normalizer");
            root.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁")
                    .put("prepend_scheme", "always").put("split", true);
        }
        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>").put("id", "<s>");
        bos.putArray("ids").add(vocab.get("<s>"));
        bos.putArray("tokens").add("<s>");
        if (shape != Shape.METASPACE) {
            ArrayNode decoders = root.putObject("decoder").put("type", "Sequence").putArray("decoders");
            ObjectNode replace = decoders.addObject().put("type", "Replace");
            replace.putObject("pattern").put("String", "▁");
            replace.put("content", " ");
            decoders.addObject().put("type", "ByteFallback");
            decoders.addObject().put("type", "Fuse");
            decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        } else {
            root.putObject("decoder").put("type", "Metaspace").put("replacement", "▁")
                    .put("prepend_scheme", "first").put("split", false);
        }
        ObjectNode model = root.putObject("model").put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        for (int id = 0; id < tokens.size(); id++) {
            v.put(tokens.get(id), id);
        }
        ArrayNode m = model.putArray("merges");
        for (Merge merge : merges) {
            m.add(merge.left() + " " + merge.right());
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** GGUF v2/v3 metadata (key to value; arrays as lists), enough for the tokenizer keys. */
    static Map<String, Object> readMetadata(Path gguf) throws IOException {
        ByteBuffer buf;
        try (FileChannel ch = FileChannel.open(gguf)) {
            buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
        }
        if (buf.getInt() != 0x46554747) {
            throw new IOException(gguf + ": not a GGUF file");
        }
        int version = buf.getInt();
        if (version < 2) {
            throw new IOException(gguf + ": GGUF version " + version + " is not supported by this test helper");
        }
        buf.getLong(); // tensor count
        long kvCount = buf.getLong();
        Map<String, Object> kv = new HashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = string(buf);
            kv.put(key, value(buf, buf.getInt()));
        }
        return kv;
    }

    private static String string(ByteBuffer buf) {
        byte[] b = new byte[Math.toIntExact(buf.getLong())];
        buf.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer buf, int type) throws IOException {
        return switch (type) {
            case 0, 1 -> (int) buf.get();
            case 2, 3 -> (int) buf.getShort();
            case 4, 5 -> buf.getInt();
            case 6 -> buf.getFloat();
            case 7 -> buf.get() != 0;
            case 8 -> string(buf);
            case 9 -> {
                int itemType = buf.getInt();
                long n = buf.getLong();
                List<Object> list = new ArrayList<>(Math.toIntExact(n));
                for (long k = 0; k < n; k++) {
                    list.add(value(buf, itemType));
                }
                yield list;
            }
            case 10, 11 -> buf.getLong();
            case 12 -> buf.getDouble();
            default -> throw new IOException("GGUF value type " + type + " is unknown");
        };
    }
}
