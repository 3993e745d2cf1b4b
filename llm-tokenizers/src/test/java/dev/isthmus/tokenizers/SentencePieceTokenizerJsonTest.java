package dev.isthmus.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SentencePiece-style BPE {@code tokenizer.json} (BPE with {@code byte_fallback}, as Llama 2, Mistral, TinyLlama
 * and Phi-3 ship it) against Hugging Face {@code tokenizers}. The file is built at run time from the Llama 2
 * vocabulary in {@code testdata/models/llama-2-tiny-random.gguf} by {@link SentencePieceTokenizerJson}, in Llama 2's
 * own shape ({@code llama2-legacy}) and two Metaspace shapes ({@code llama2-metaspace}: prepend first, no split;
 * {@code llama2-metaspace-split}: prepend always, split at every {@code ▁}); the expected ids were made
 * with {@code ref hf-tokenize} on files built the same way (see {@code src/test/resources/reference-ids/README.md}).
 */
class SentencePieceTokenizerJsonTest {
    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();
    private static final List<String> NAMES = List.of("llama2-legacy", "llama2-metaspace", "llama2-metaspace-split");

    static Tokenizer tokenizer(String name) {
        Path gguf = SharedTestData.require("testdata/models/llama-2-tiny-random.gguf");
        return TOKENIZERS.computeIfAbsent(name, n -> {
            try {
                SentencePieceTokenizerJson.Shape shape = switch (n) {
                    case "llama2-legacy" -> SentencePieceTokenizerJson.Shape.LEGACY;
                    case "llama2-metaspace" -> SentencePieceTokenizerJson.Shape.METASPACE;
                    default -> SentencePieceTokenizerJson.Shape.METASPACE_SPLIT;
                };
                return HuggingFaceTokenizerLoader.fromJson(SentencePieceTokenizerJson.build(gguf, shape), null);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private static Path resource(String name) {
        try {
            return Path.of(SentencePieceTokenizerJsonTest.class.getResource("/reference-ids/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The 46 llama-spm vector texts, and the extra and random texts, for both shapes. */
    static Stream<SharedTestData.Case> plain() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String name : NAMES) {
            all.addAll(SharedTestData.cases(name, SharedTestData.require("testdata/vectors/llama-spm.inp"),
                    resource("llama-spm." + name + ".out")));
            for (String set : List.of("extra", "random")) {
                all.addAll(SharedTestData.cases(name, resource(set + ".inp"), resource(set + "." + name + ".out")));
            }
        }
        return all.stream();
    }

    static Stream<SharedTestData.Case> withSpecialTokensAdded() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String name : NAMES) {
            for (String set : List.of("extra", "random")) {
                all.addAll(SharedTestData.cases(name, resource(set + ".inp"),
                        resource(set + "." + name + ".special.out")));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("plain")
    void encodesToHuggingFaceIds(SharedTestData.Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), new EncodeOptions(false, true));
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("withSpecialTokensAdded")
    void addsBosAsThePostProcessorSays(SharedTestData.Case c) {
        int[] ids = tokenizer(c.vocab()).encode(c.text(), EncodeOptions.DEFAULT);
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    @Test
    void llamaSpmVectorsDecodeBackToTheirText() throws IOException {
        Tokenizer tok = tokenizer("llama2-legacy");
        List<String> texts = SharedTestData.readInp(SharedTestData.require("testdata/vectors/llama-spm.inp"));
        List<int[]> ids = SharedTestData.readOut(resource("llama-spm.llama2-legacy.out"));
        assertThat(texts).hasSize(46);
        for (int i = 0; i < texts.size(); i++) {
            assertThat(tok.decode(ids.get(i))).as("decode of llama-spm text %d", i).isEqualTo(texts.get(i));
        }
        assertThat(tok.isLossless()).isTrue();
    }

    @Test
    void legacyShapeAgreesWithLlamaCppOnTheGgufVocabulary() throws IOException {
        // Llama 2's tokenizer.json and llama.cpp's SentencePiece give the same ids on every vector text.
        Tokenizer tok = tokenizer("llama2-legacy");
        List<SharedTestData.Case> cases = SharedTestData.vectors("llama-spm");
        for (SharedTestData.Case c : cases) {
            assertThat(tok.encode(c.text(), EncodeOptions.PLAIN_TEXT)).as("ids of %s", c).containsExactly(c.ids());
        }
    }

    @Test
    void byteFallbackDecoderGivesOneReplacementPerByteOfAnInvalidRun() {
        Tokenizer tok = tokenizer("llama2-legacy");
        int e4 = tok.tokenToId("<0xE4>").orElseThrow();
        int b8 = tok.tokenToId("<0xB8>").orElseThrow();
        int ad = tok.tokenToId("<0xAD>").orElseThrow();
        int hello = tok.tokenToId("▁Hello").orElseThrow();
        assertThat(tok.decode(new int[] {e4, b8, ad})).isEqualTo("中");
        // HF's ByteFallback: a run that is not valid UTF-8 becomes one U+FFFD per token, whatever its prefix.
        assertThat(tok.decode(new int[] {e4, b8})).isEqualTo("\uFFFD\uFFFD");
        assertThat(tok.decode(new int[] {e4, b8, ad, ad, hello})).isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD Hello");
        assertThat(tok.decode(new int[] {hello, hello})).isEqualTo("Hello Hello");
    }

    /**
     * The whole WikiText-2 test split (1.29 MB) as one text: the SHA-256 of the ids joined by single spaces, and
     * their count, from {@code ref hf-tokenize FILE wiki.test.raw} on the generated files (reference-ids README).
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource({
            "llama2-legacy, 332754, 5fdcd042d41b8dc2c6786d4ed06607be74d985b6f930aa256fc7b4fce89de171",
            "llama2-metaspace, 332753, e733bb1aa0f6b9338b5d35582dc200c02a26376610f0dbae2ce9d97cfd7bfc51",
            "llama2-metaspace-split, 332753, e733bb1aa0f6b9338b5d35582dc200c02a26376610f0dbae2ce9d97cfd7bfc51"})
    void wholeWikiTextCorpusGivesHuggingFaceIds(String name, int count, String sha256) throws Exception {
        String text = java.nio.file.Files.readString(SharedTestData.require("testdata/corpus/wiki.test.raw"));
        int[] ids = tokenizer(name).encode(text, EncodeOptions.PLAIN_TEXT);
        String joined = Arrays.stream(ids).mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(" "));
        byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                .digest(joined.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertThat(ids).as("number of ids").hasSize(count);
        assertThat(java.util.HexFormat.of().formatHex(digest)).as("SHA-256 of the ids").isEqualTo(sha256);
        if (name.equals("llama2-legacy")) {
            assertThat(tokenizer(name).decode(ids)).as("decode of the corpus").isEqualTo(text);
        }
    }

    /** Tiny files for unknown characters: fuse_unk on/off, no byte_fallback, no unk_token, ignore_merges (resources tiny-spm/). */
    static Stream<SharedTestData.Case> tinyFiles() throws IOException {
        List<SharedTestData.Case> all = new ArrayList<>();
        for (String name : List.of("fuse", "nofuse", "nobytes", "nounk", "ignore")) {
            all.addAll(SharedTestData.cases(name, resource("tiny-spm/tiny-spm.inp"),
                    resource("tiny-spm/tiny-spm." + name + ".out")));
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyFiles")
    void unknownCharactersAsHuggingFaceHandlesThem(SharedTestData.Case c) throws IOException {
        Tokenizer tok = HuggingFaceTokenizerLoader.load(resource("tiny-spm/tiny-spm-" + c.vocab() + ".tokenizer.json"));
        int[] ids = tok.encode(c.text(), new EncodeOptions(false, true));
        assertThat(ids).as("ids of %s (got %s)", c, Arrays.toString(ids)).containsExactly(c.ids());
    }

    /** Expected strings printed by HF tokenizers' {@code decode} (npm {@code @anush008/tokenizers} 0.6.0) on the same files. */
    @Test
    void decodeMatchesHuggingFaceOnEdgeCases() {
        Tokenizer legacy = tokenizer("llama2-legacy");
        assertThat(legacy.decode(new int[] {231, 190, 176})).isEqualTo("仭");
        assertThat(legacy.decode(new int[] {231, 190})).isEqualTo("\uFFFD\uFFFD");
        assertThat(legacy.decode(new int[] {231, 190, 176, 176, 15043})).isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD Hello");
        assertThat(legacy.decode(new int[] {15043, 15043})).isEqualTo("Hello Hello");
        assertThat(legacy.decode(new int[] {35})).as("<0x20> first: Strip removes it").isEmpty();
        assertThat(legacy.decode(new int[] {259, 15043})).isEqualTo("  Hello");
        assertThat(legacy.decode(new int[] {29871, 29871})).isEqualTo(" ");
        Tokenizer metaspace = tokenizer("llama2-metaspace");
        assertThat(metaspace.decode(new int[] {259, 15043, 259})).as("every ▁ of the first token dropped").isEqualTo(" Hello  ");
        assertThat(metaspace.decode(new int[] {231, 190, 176})).as("no ByteFallback step").isEqualTo("<0xE4><0xBB><0xAD>");
        assertThat(metaspace.decode(new int[] {1, 259, 15043})).isEqualTo("<s>   Hello");
        assertThat(metaspace.decode(new int[] {1, 259, 15043}, true)).isEqualTo(" Hello");
    }

    @Test
    void streamingDecodeEmitsWholeCharactersFromByteTokens() {
        Tokenizer tok = tokenizer("llama2-legacy");
        String text = "Hi 🦙 我想在apple工作 👨‍👩‍👧‍👦";
        int[] ids = tok.encode(text, EncodeOptions.PLAIN_TEXT);
        StreamingDecoder stream = tok.newStreamingDecoder(true);
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.push(id);
            assertThat(piece).as("piece after id %d", id).doesNotContain("\uFFFD");
            out.append(piece);
        }
        out.append(stream.finish());
        assertThat(out.toString()).as("streamed text keeps the dummy-prefix space").isEqualTo(" " + text);
    }

    @Test
    void unsupportedSentencePieceComponentsAreNamed() throws IOException {
        String tiny = java.nio.file.Files.readString(resource("tiny-spm/tiny-spm-fuse.tokenizer.json"));
        String strip = "{\n    \"type\": \"Strip\",\n    \"content\": \" \",";
        assertThat(tiny).contains(strip);
        Map<String, String[]> broken = Map.of(
                tiny.replace(strip, "{\n    \"type\": \"Strip\",\n    \"content\": \"x\","),
                new String[] {"decoder.decoders[3]", "Strip"},
                tiny.replace("\"type\": \"Fuse\"", "\"type\": \"CTC\""), new String[] {"decoder.decoders[2]", "CTC"},
                tiny.replace("\"type\": \"ByteFallback\"", "\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0"),
                new String[] {"decoder.decoders[1]", "Strip"},
                tiny.replace("\"pre_tokenizer\": null", "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"prepend_scheme\": \"sometimes\"}"),
                new String[] {"pre_tokenizer.prepend_scheme", "sometimes"},
                tiny.replace("\"pre_tokenizer\": null", "\"pre_tokenizer\": {\"type\": \"Whitespace\"}"),
                new String[] {"pre_tokenizer.type", "Whitespace"},
                tiny.replace("\"unk_token\": \"<unk>\"", "\"unk_token\": \"<nope>\""), new String[] {"model.unk_token", "<nope>"},
                tiny.replace("\"\u2581w or\"", "\"\u2581w zz\""), new String[] {"model.merges", "zz"});
        for (Map.Entry<String, String[]> e : broken.entrySet()) {
            assertThat(e.getKey()).as("the replacement applied for %s", Arrays.toString(e.getValue())).isNotEqualTo(tiny);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> HuggingFaceTokenizerLoader.fromJson(e.getKey(), null))
                    .isInstanceOf(TokenizerFormatException.class)
                    .satisfies(x -> {
                        for (String f : e.getValue()) {
                            assertThat(x.getMessage()).as("message names %s", f).contains(f);
                        }
                    });
        }
    }

    @Test
    void specialTokensDecodeAsTextOrAreSkipped() {
        Tokenizer tok = tokenizer("llama2-legacy");
        int hello = tok.tokenToId("▁Hello").orElseThrow();
        assertThat(tok.decode(new int[] {1, hello, 2})).isEqualTo("<s> Hello</s>");
        assertThat(tok.decode(new int[] {1, hello, 2}, true)).isEqualTo("Hello");
        assertThat(tok.bosTokenId()).hasValue(1);
        assertThat(tok.unknownTokenId()).hasValue(0);
        assertThat(tok.kind()).isEqualTo("SentencePiece BPE (tokenizer.json)");
    }

    @Test
    void longRunOfOneCharacterStaysFast() {
        Tokenizer tok = tokenizer("llama2-legacy");
        long start = System.nanoTime();
        int[] ids = tok.encode(" ".repeat(100_000) + "x".repeat(100_000), EncodeOptions.PLAIN_TEXT);
        assertThat(ids.length).isPositive();
        assertThat(System.nanoTime() - start).as("nanoseconds for 200k characters").isLessThan(5_000_000_000L);
        assertThat(tok.decode(ids)).isEqualTo(" ".repeat(100_000) + "x".repeat(100_000));
    }
}
