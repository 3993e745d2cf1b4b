package dev.isthmus.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Builds the pipeline parts named in a {@code tokenizer.json}; unknown component types fail by name. */
final class HfComponents {
    private HfComponents() {
    }

    /** The pre-tokenizer of a byte-level BPE, and whether ByteLevel adds a space before the text. */
    record ByteLevelSplit(PreTokenizer preTokenizer, boolean addPrefixSpace, String name) {
    }

    static TextNormalizer normalizer(JsonNode n, String path) {
        if (n == null) {
            return null;
        }
        String type = JsonFields.string(n, "type", path);
        return switch (type) {
            case "NFC" -> TextNormalizer.nfc();
            case "NFD" -> TextNormalizer.nfd();
            case "NFKC" -> TextNormalizer.nfkc();
            case "NFKD" -> TextNormalizer.nfkd();
            case "Lowercase" -> TextNormalizer.lowercase();
            case "BertNormalizer" -> {
                boolean lowercase = JsonFields.bool(n, "lowercase", true, path);
                yield new BertNormalizer(JsonFields.bool(n, "clean_text", true, path),
                        JsonFields.bool(n, "handle_chinese_chars", true, path),
                        JsonFields.bool(n, "strip_accents", lowercase, path), lowercase);
            }
            case "Prepend" -> {
                String prefix = JsonFields.string(n, "prepend", path);
                yield text -> text.isEmpty() ? text : prefix + text;
            }
            case "Replace" -> {
                String pattern = stringPattern(n, path);
                String content = JsonFields.string(n, "content", path);
                yield text -> text.replace(pattern, content);
            }
            case "Sequence" -> {
                JsonNode list = JsonFields.array(n, "normalizers", path);
                List<TextNormalizer> steps = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    steps.add(normalizer(list.get(i), path + ".normalizers[" + i + "]"));
                }
                yield TextNormalizer.sequence(steps);
            }
            default -> throw new TokenizerFormatException(path + ".type '" + type + "' is not supported (supported:"
                    + " NFC, NFD, NFKC, NFKD, Lowercase, BertNormalizer, Prepend, Replace with a String pattern, Sequence)");
        };
    }

    /** The {@code String} of a {@code Replace} step's pattern; a {@code Regex} pattern is not supported. */
    private static String stringPattern(JsonNode n, String path) {
        JsonNode pattern = JsonFields.object(n, "pattern", path);
        if (!pattern.has("String")) {
            throw new TokenizerFormatException(path + ".pattern: only a String pattern is supported in Replace, found "
                    + JsonFields.describe(pattern));
        }
        String value = JsonFields.string(pattern, "String", path + ".pattern");
        if (value.isEmpty()) {
            throw new TokenizerFormatException(path + ".pattern.String: empty");
        }
        return value;
    }

    /**
     * The pre-tokenizer of a SentencePiece-style BPE: none (the normalizer puts in the {@code ▁}), or
     * {@code Metaspace}. Its {@code prepend_scheme} defaults from the older {@code add_prefix_space}
     * ({@code always} / {@code never}) and {@code split} defaults to true, as HF reads older files.
     */
    static ByteFallbackBpe.Metaspace metaspacePreTokenizer(JsonNode pre) {
        if (pre == null) {
            return null;
        }
        String path = "pre_tokenizer";
        String type = JsonFields.string(pre, "type", path);
        if (!type.equals("Metaspace")) {
            throw new TokenizerFormatException(path + ".type '" + type + "' is not supported with SentencePiece-style BPE"
                    + " (supported: Metaspace, or none)");
        }
        return new ByteFallbackBpe.Metaspace(replacementChar(pre, path), prependScheme(pre, path),
                JsonFields.bool(pre, "split", true, path));
    }

    private static char replacementChar(JsonNode n, String path) {
        String rep = JsonFields.optionalString(n, "replacement", path);
        if (rep == null) {
            rep = "\u2581";
        }
        if (rep.length() != 1) {
            throw new TokenizerFormatException(path + ".replacement '" + rep + "': expected one character");
        }
        return rep.charAt(0);
    }

    private static ByteFallbackBpe.PrependScheme prependScheme(JsonNode n, String path) {
        String scheme = JsonFields.optionalString(n, "prepend_scheme", path);
        if (scheme == null) {
            return JsonFields.bool(n, "add_prefix_space", true, path)
                    ? ByteFallbackBpe.PrependScheme.ALWAYS : ByteFallbackBpe.PrependScheme.NEVER;
        }
        return switch (scheme) {
            case "always" -> ByteFallbackBpe.PrependScheme.ALWAYS;
            case "first" -> ByteFallbackBpe.PrependScheme.FIRST;
            case "never" -> ByteFallbackBpe.PrependScheme.NEVER;
            default -> throw new TokenizerFormatException(path + ".prepend_scheme '" + scheme
                    + "' is not supported (supported: always, first, never)");
        };
    }

    /**
     * Decoders of SentencePiece-style BPE: {@code Metaspace} alone, or a {@code Sequence} of
     * {@code Replace("▁", " ")}, {@code ByteFallback}, {@code Fuse}, {@code Strip(" ", start, 0)} in that order,
     * each optional ({@code Strip} only after {@code Fuse}, where it trims the whole text).
     */
    static PieceTable sentencePiecePieces(JsonNode decoder, Vocabulary vocab) {
        String path = "decoder";
        String type = decoder == null ? "null" : JsonFields.string(decoder, "type", path);
        if (type.equals("Metaspace")) {
            String rep = String.valueOf(replacementChar(decoder, path));
            boolean dropFirst = prependScheme(decoder, path) != ByteFallbackBpe.PrependScheme.NEVER;
            byte[][] pieces = new byte[vocab.size()][];
            byte[][] first = new byte[vocab.size()][];
            for (int id = 0; id < pieces.length; id++) {
                String t = vocab.token(id);
                if (t != null) {
                    pieces[id] = t.replace(rep, " ").getBytes(StandardCharsets.UTF_8);
                    // HF's Metaspace decoder drops every replacement char of the first token, not only a leading one.
                    first[id] = dropFirst ? t.replace(rep, "").getBytes(StandardCharsets.UTF_8) : null;
                }
            }
            return new PieceTable(pieces, first);
        }
        if (!type.equals("Sequence")) {
            throw new TokenizerFormatException(path + ".type '" + type + "' is not supported with SentencePiece-style BPE"
                    + " (supported: Metaspace, or a Sequence of Replace, ByteFallback, Fuse, Strip)");
        }
        JsonNode list = JsonFields.array(decoder, "decoders", path);
        String from = null;
        String to = null;
        boolean byteFallback = false;
        boolean fuse = false;
        int strip = 0;
        int stage = 0;
        for (int i = 0; i < list.size(); i++) {
            String stepPath = path + ".decoders[" + i + "]";
            JsonNode step = list.get(i);
            String stepType = JsonFields.string(step, "type", stepPath);
            int order = switch (stepType) {
                case "Replace" -> 1;
                case "ByteFallback" -> 2;
                case "Fuse" -> 3;
                case "Strip" -> 4;
                default -> throw new TokenizerFormatException(stepPath + ".type '" + stepType + "' is not supported"
                        + " (supported: Replace, ByteFallback, Fuse, Strip)");
            };
            if (order <= stage) {
                throw new TokenizerFormatException(stepPath + ": " + stepType + " here is not supported (the order"
                        + " must be Replace, ByteFallback, Fuse, Strip)");
            }
            stage = order;
            switch (stepType) {
                case "Replace" -> {
                    from = stringPattern(step, stepPath);
                    to = JsonFields.string(step, "content", stepPath);
                }
                case "ByteFallback" -> byteFallback = true;
                case "Fuse" -> fuse = true;
                default -> {
                    String content = JsonFields.string(step, "content", stepPath);
                    int start = JsonFields.integer(step.get("start"), stepPath + ".start");
                    int stop = JsonFields.integer(step.get("stop"), stepPath + ".stop");
                    if (!content.equals(" ") || stop != 0 || start < 0 || !fuse) {
                        throw new TokenizerFormatException(stepPath + ": Strip is supported only with content ' ',"
                                + " stop 0, after Fuse");
                    }
                    strip = start;
                }
            }
        }
        byte[][] pieces = new byte[vocab.size()][];
        boolean[] bytes = byteFallback ? new boolean[vocab.size()] : null;
        for (int id = 0; id < pieces.length; id++) {
            String t = vocab.token(id);
            if (t == null) {
                continue;
            }
            String replaced = from == null ? t : t.replace(from, to);
            int b = byteFallback ? byteToken(replaced) : -1;
            if (b >= 0) {
                bytes[id] = true;
                pieces[id] = new byte[] {(byte) b};
            } else {
                pieces[id] = replaced.getBytes(StandardCharsets.UTF_8);
            }
        }
        return PieceTable.byteFallback(pieces, bytes, strip);
    }

    /** The byte of a {@code <0xNN>} token as HF's ByteFallback decoder reads it ({@code u8::from_str_radix}), else -1. */
    static int byteToken(String t) {
        if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') {
            return -1;
        }
        int lo = asciiHex(t.charAt(4));
        int hi = t.charAt(3) == '+' ? 0 : asciiHex(t.charAt(3)); // Rust's from_str_radix accepts a leading '+'
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static int asciiHex(char c) {
        return c < 0x80 ? Character.digit(c, 16) : -1;
    }

    /**
     * Accepts {@code ByteLevel} alone (its own GPT-2 split when {@code use_regex}) or
     * {@code Sequence[Split(Isolated), ByteLevel(use_regex=false)]}.
     */
    static ByteLevelSplit byteLevelPreTokenizer(JsonNode pre) {
        String unsupported = "pre_tokenizer: byte-level BPE needs ByteLevel, or Sequence[Split, ByteLevel(use_regex=false)]";
        if (pre == null) {
            throw new TokenizerFormatException(unsupported + "; found none");
        }
        String type = JsonFields.string(pre, "type", "pre_tokenizer");
        if (type.equals("ByteLevel")) {
            boolean prefix = JsonFields.bool(pre, "add_prefix_space", true, "pre_tokenizer");
            if (JsonFields.bool(pre, "use_regex", true, "pre_tokenizer")) {
                return new ByteLevelSplit(new Gpt2PreTokenizer(), prefix, "gpt-2");
            }
            return new ByteLevelSplit((text, from, to, ends) -> ends.add(to), prefix, "no split");
        }
        if (!type.equals("Sequence")) {
            throw new TokenizerFormatException("pre_tokenizer.type '" + type + "' is not supported: " + unsupported);
        }
        JsonNode list = JsonFields.array(pre, "pretokenizers", "pre_tokenizer");
        if (list.size() != 2) {
            throw new TokenizerFormatException("pre_tokenizer.pretokenizers: " + list.size() + " steps are not supported: "
                    + unsupported);
        }
        JsonNode split = list.get(0);
        JsonNode byteLevel = list.get(1);
        String splitType = JsonFields.string(split, "type", "pre_tokenizer.pretokenizers[0]");
        String byteLevelType = JsonFields.string(byteLevel, "type", "pre_tokenizer.pretokenizers[1]");
        if (!splitType.equals("Split") || !byteLevelType.equals("ByteLevel")) {
            throw new TokenizerFormatException("pre_tokenizer.pretokenizers: [" + splitType + ", " + byteLevelType
                    + "] is not supported: " + unsupported);
        }
        if (JsonFields.bool(byteLevel, "use_regex", true, "pre_tokenizer.pretokenizers[1]")) {
            throw new TokenizerFormatException("pre_tokenizer.pretokenizers[1].use_regex: a second split after Split"
                    + " is not supported");
        }
        boolean prefix = JsonFields.bool(byteLevel, "add_prefix_space", true, "pre_tokenizer.pretokenizers[1]");
        String path = "pre_tokenizer.pretokenizers[0]";
        String behavior = JsonFields.string(split, "behavior", path);
        if (!behavior.equals("Isolated") || JsonFields.bool(split, "invert", false, path)) {
            throw new TokenizerFormatException(path + ": behavior '" + behavior + "' (or invert) is not supported"
                    + " (supported: Isolated)");
        }
        JsonNode pattern = JsonFields.object(split, "pattern", path);
        String regex;
        if (pattern.has("Regex")) {
            regex = JsonFields.string(pattern, "Regex", path + ".pattern");
        } else if (pattern.has("String")) {
            regex = Pattern.quote(JsonFields.string(pattern, "String", path + ".pattern"));
        } else {
            throw new TokenizerFormatException(path + ".pattern: expected Regex or String, found "
                    + JsonFields.describe(pattern));
        }
        return switch (regex) {
            case Llama3PreTokenizer.LLAMA3_PATTERN -> new ByteLevelSplit(new Llama3PreTokenizer(3), prefix, "llama3");
            case Llama3PreTokenizer.QWEN2_PATTERN -> new ByteLevelSplit(new Llama3PreTokenizer(1), prefix, "qwen2");
            case Gpt2PreTokenizer.PATTERN -> new ByteLevelSplit(new Gpt2PreTokenizer(), prefix, "gpt-2");
            default -> new ByteLevelSplit(new RegexPreTokenizer(regex, path + ".pattern.Regex"), prefix, "regex");
        };
    }

    /** Merges as {@code "a b"} strings or {@code ["a", "b"]} pairs; each must name vocabulary tokens. */
    static BpeMergeTable merges(JsonNode list, Map<String, Integer> vocab) {
        int n = list.size();
        int[] left = new int[n];
        int[] right = new int[n];
        int[] result = new int[n];
        for (int r = 0; r < n; r++) {
            String path = "model.merges[" + r + "]";
            JsonNode m = list.get(r);
            String a;
            String b;
            if (m.isTextual()) {
                String text = m.textValue();
                int space = text.indexOf(' ', 1);
                if (space < 0 || text.indexOf(' ', space + 1) >= 0) {
                    throw new TokenizerFormatException(path + ": '" + text + "' is not two tokens separated by a space");
                }
                a = text.substring(0, space);
                b = text.substring(space + 1);
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                a = m.get(0).textValue();
                b = m.get(1).textValue();
            } else {
                throw new TokenizerFormatException(path + ": expected \"a b\" or [\"a\", \"b\"], found "
                        + JsonFields.describe(m));
            }
            left[r] = mergeToken(vocab, a, path);
            right[r] = mergeToken(vocab, b, path);
            result[r] = mergeToken(vocab, a + b, path);
        }
        return BpeMergeTable.of(left, right, result, true); // HF: a repeated merge takes its last rank
    }

    private static int mergeToken(Map<String, Integer> vocab, String token, String path) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new TokenizerFormatException(path + ": token '" + token + "' is not in model.vocab");
        }
        return id;
    }

    static PieceTable byteLevelPieces(JsonNode decoder, Vocabulary vocab) {
        String type = decoder == null ? "null" : JsonFields.string(decoder, "type", "decoder");
        if (!type.equals("ByteLevel")) {
            throw new TokenizerFormatException("decoder.type '" + type + "' is not supported with byte-level BPE"
                    + " (supported: ByteLevel)");
        }
        byte[][] pieces = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String t = vocab.token(id);
            if (t != null) {
                byte[] bytes = ByteLevelAlphabet.decode(t);
                // Hugging Face keeps a token with a char outside the alphabet (an added token) as its UTF-8.
                pieces[id] = bytes != null ? bytes : t.getBytes(StandardCharsets.UTF_8);
            }
        }
        return new PieceTable(pieces, null);
    }

    static PieceTable wordPiecePieces(JsonNode decoder, Vocabulary vocab) {
        String type = decoder == null ? "null" : JsonFields.string(decoder, "type", "decoder");
        if (!type.equals("WordPiece")) {
            throw new TokenizerFormatException("decoder.type '" + type + "' is not supported with WordPiece"
                    + " (supported: WordPiece)");
        }
        String prefix = JsonFields.optionalString(decoder, "prefix", "decoder");
        return wordPiecePieces(vocab, prefix == null ? "##" : prefix, JsonFields.bool(decoder, "cleanup", true, "decoder"));
    }

    /** Hugging Face's WordPiece decoder per token: a space before words, none before continuations, then cleanup. */
    static PieceTable wordPiecePieces(Vocabulary vocab, String prefix, boolean cleanup) {
        byte[][] pieces = new byte[vocab.size()][];
        byte[][] first = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String t = vocab.token(id);
            if (t != null) {
                String later = t.startsWith(prefix) ? t.substring(prefix.length()) : " " + t;
                pieces[id] = (cleanup ? cleanup(later) : later).getBytes(StandardCharsets.UTF_8);
                first[id] = (cleanup ? cleanup(t) : t).getBytes(StandardCharsets.UTF_8);
            }
        }
        return new PieceTable(pieces, first);
    }

    private static String cleanup(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    static PostProcessor postProcessor(JsonNode n, Vocabulary vocab) {
        if (n == null) {
            return PostProcessor.NONE;
        }
        String path = "post_processor";
        String type = JsonFields.string(n, "type", path);
        return switch (type) {
            case "ByteLevel" -> PostProcessor.NONE; // only adjusts offsets
            case "TemplateProcessing" -> checkIds(template(n, path), vocab, path);
            case "BertProcessing" -> {
                int cls = pairId(n, "cls", path, vocab);
                int sep = pairId(n, "sep", path, vocab);
                yield new PostProcessor(new int[] {cls}, new int[] {sep}, new int[] {cls}, new int[] {sep}, new int[] {sep});
            }
            case "RobertaProcessing" -> {
                int cls = pairId(n, "cls", path, vocab);
                int sep = pairId(n, "sep", path, vocab);
                yield new PostProcessor(new int[] {cls}, new int[] {sep}, new int[] {cls}, new int[] {sep, sep},
                        new int[] {sep});
            }
            case "Sequence" -> {
                JsonNode list = JsonFields.array(n, "processors", path);
                PostProcessor chosen = PostProcessor.NONE;
                for (int i = 0; i < list.size(); i++) {
                    PostProcessor p = postProcessor(list.get(i), vocab);
                    if (p != PostProcessor.NONE) {
                        if (chosen != PostProcessor.NONE) {
                            throw new TokenizerFormatException(path + ".processors: more than one adds tokens");
                        }
                        chosen = p;
                    }
                }
                yield chosen;
            }
            default -> throw new TokenizerFormatException(path + ".type '" + type + "' is not supported (supported:"
                    + " ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)");
        };
    }

    private static PostProcessor checkIds(PostProcessor p, Vocabulary vocab, String path) {
        for (int[] ids : new int[][] {p.singlePrefix(), p.singleSuffix(), p.pairPrefix(), p.pairMiddle(), p.pairSuffix()}) {
            for (int id : ids) {
                if (!vocab.contains(id)) {
                    throw new TokenizerFormatException(path + ".special_tokens: id " + id + " is not in the vocabulary");
                }
            }
        }
        return p;
    }

    private static int pairId(JsonNode n, String name, String path, Vocabulary vocab) {
        JsonNode pair = JsonFields.array(n, name, path);
        if (pair.size() != 2) {
            throw new TokenizerFormatException(path + "." + name + ": expected [token, id]");
        }
        int id = JsonFields.integer(pair.get(1), path + "." + name + "[1]");
        if (!vocab.contains(id)) {
            throw new TokenizerFormatException(path + "." + name + ": id " + id + " is not in the vocabulary");
        }
        return id;
    }

    /** {@code single}: specials, $A, specials; {@code pair}: specials, $A, specials, $B, specials. */
    private static PostProcessor template(JsonNode n, String path) {
        JsonNode specials = JsonFields.object(n, "special_tokens", path);
        List<int[]> single = templateParts(JsonFields.array(n, "single", path), specials, path + ".single", 1);
        List<int[]> pair = n.has("pair") && !n.get("pair").isNull()
                ? templateParts(JsonFields.array(n, "pair", path), specials, path + ".pair", 2)
                : List.of(single.get(0), concat(single.get(1), single.get(0)), single.get(1));
        return new PostProcessor(single.get(0), single.get(1), pair.get(0), pair.get(1), pair.get(2));
    }

    private static List<int[]> templateParts(JsonNode items, JsonNode specials, String path, int sequences) {
        List<int[]> parts = new ArrayList<>();
        IntList current = new IntList();
        char expected = 'A';
        for (int i = 0; i < items.size(); i++) {
            JsonNode item = items.get(i);
            String itemPath = path + "[" + i + "]";
            if (item.has("Sequence")) {
                String id = JsonFields.string(item.get("Sequence"), "id", itemPath + ".Sequence");
                if (id.charAt(0) != expected || parts.size() >= sequences) {
                    throw new TokenizerFormatException(itemPath + ": sequence '" + id + "' is out of order");
                }
                expected++;
                parts.add(current.toArray());
                current = new IntList();
            } else if (item.has("SpecialToken")) {
                String name = JsonFields.string(item.get("SpecialToken"), "id", itemPath + ".SpecialToken");
                JsonNode special = specials.get(name);
                if (special == null) {
                    throw new TokenizerFormatException(itemPath + ": '" + name + "' is not in special_tokens");
                }
                JsonNode ids = JsonFields.array(special, "ids", path + ".special_tokens['" + name + "']");
                for (int k = 0; k < ids.size(); k++) {
                    current.add(JsonFields.integer(ids.get(k), "special_tokens['" + name + "'].ids[" + k + "]"));
                }
            } else {
                throw new TokenizerFormatException(itemPath + ": expected Sequence or SpecialToken, found "
                        + JsonFields.describe(item));
            }
        }
        if (parts.size() != sequences) {
            throw new TokenizerFormatException(path + ": expected " + sequences + " sequence(s), found " + parts.size());
        }
        parts.add(current.toArray());
        return parts;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
