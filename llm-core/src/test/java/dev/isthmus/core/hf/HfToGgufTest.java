package dev.isthmus.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.model.UnsupportedArchitectureException;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * stories260K written out as the Hugging Face checkpoint it would have been converted from, then converted
 * back: the GGUF that comes out must hold the original's tensors bit for bit, run to the same logits, and
 * tokenize as the original vocabulary does.
 */
class HfToGgufTest {
    @TempDir
    static Path tmp;
    static Path original;
    static Path checkpoint;
    static Path converted;

    @BeforeAll
    static void convert() throws Exception {
        original = SharedTestData.testdata("models/stories260K.gguf");
        checkpoint = Files.createDirectories(tmp.resolve("stories260K-hf"));
        StoriesCheckpoint.write(original, checkpoint);
        converted = tmp.resolve("converted.gguf");
        try (HfToGguf conversion = HfToGguf.open(checkpoint)) {
            conversion.write(converted);
        }
    }

    @Test
    void everyTensorEqualsTheOriginals() throws Exception {
        try (GgufFile a = GgufFile.open(original); GgufFile b = GgufFile.open(converted)) {
            assertThat(b.tensors()).extracting(GgufTensorInfo::name).as("tensor names")
                    .containsExactlyInAnyOrderElementsOf(a.tensors().stream().map(GgufTensorInfo::name).toList());
            for (GgufTensorInfo t : a.tensors()) {
                GgufTensorInfo u = b.tensorInfo(t.name()).orElseThrow();
                assertThat(u.type()).as("%s type", t.name()).isEqualTo(t.type());
                assertThat(u.ggufDims()).as("%s dims", t.name()).containsExactly(t.ggufDims());
                assertThat(b.tensorData(t.name()).mismatch(a.tensorData(t.name()))).as("%s: first differing byte", t.name())
                        .isEqualTo(-1L);
            }
        }
    }

    @Test
    void metadataUsesLlamaCppsKeys() throws Exception {
        try (GgufFile a = GgufFile.open(original); GgufFile b = GgufFile.open(converted)) {
            var m = b.modelMetadata();
            var o = a.modelMetadata();
            assertThat(m.architecture()).isEqualTo("llama");
            assertThat(m.name()).contains("stories260K-hf");
            assertThat(List.of(m.contextLength(), m.embeddingLength(), m.blockCount(), m.feedForwardLength(),
                    m.headCount(), m.headCountKv(), m.ropeDimensionCount())).as("hyper-parameters")
                    .containsExactly(o.contextLength(), o.embeddingLength(), o.blockCount(), o.feedForwardLength(),
                            o.headCount(), o.headCountKv(), o.ropeDimensionCount());
            assertThat(m.rmsNormEpsilon().orElseThrow()).isEqualTo(o.rmsNormEpsilon().orElseThrow());
            assertThat(m.ropeFreqBase()).isEqualTo(10000.0);
            assertThat(m.fileType()).as("general.file_type of an all-F32 model").hasValue(0);
            assertThat(b.metadata()).containsEntry("tokenizer.ggml.model", "llama")
                    .containsEntry("tokenizer.ggml.tokens", a.metadata().get("tokenizer.ggml.tokens"))
                    .containsEntry("tokenizer.ggml.token_type", a.metadata().get("tokenizer.ggml.token_type"))
                    .containsEntry("tokenizer.ggml.bos_token_id", 1L).containsEntry("tokenizer.ggml.eos_token_id", 2L)
                    .containsEntry("tokenizer.ggml.padding_token_id", 0L)
                    .containsEntry("tokenizer.ggml.add_bos_token", true)
                    .containsEntry("tokenizer.chat_template", StoriesCheckpoint.CHAT_TEMPLATE);
        }
    }

    @Test
    void convertedModelComputesTheOriginalsLogitsAndGreedyIds() throws Exception {
        List<String> lines = Files.readAllLines(SharedTestData.testdata("reference/stories260K-greedy.jsonl"));
        try (LanguageModel a = Llm.builder().model(original).threads(2).build();
             LanguageModel b = Llm.builder().model(converted).threads(2).build()) {
            for (String line : lines) {
                JsonNode ref = new ObjectMapper().readTree(line);
                int[] prompt = HfCheckpointTest.ids(ref.get("prompt_ids"));
                int[] expected = HfCheckpointTest.ids(ref.get("ids"));
                // same weights, same graph: only JIT-dependent float noise (~1e-6) may tell the two apart
                assertThat(b.logits(prompt)).as("logits for %s", ref.get("prompt"))
                        .containsExactly(a.logits(prompt), within(1e-4f));
                assertThat(b.complete(prompt).maxNewTokens(expected.length).ignoreEos(true).call().ids())
                        .as("llama.cpp's greedy ids for %s", ref.get("prompt")).containsExactly(expected);
            }
        }
    }

    @Test
    void vocabularyFromTheTokenizerJsonEncodesAsTheOriginal() throws Exception {
        Tokenizer a;
        Tokenizer b;
        try (GgufFile fa = GgufFile.open(original); GgufFile fb = GgufFile.open(converted)) {
            a = GgufTokenizerLoader.fromMetadata(fa.metadata());
            b = GgufTokenizerLoader.fromMetadata(fb.metadata());
        }
        List<String> texts = new ArrayList<>(HfTokenizerMetadataTest.texts(
                Files.readString(SharedTestData.testdata("vectors/llama-spm.inp"))));
        texts.addAll(Files.readString(SharedTestData.testdata("corpus/wiki.test.raw")).lines().limit(400).toList());
        texts.add("Once upon a time, there was a little girl named Lily. <s> She liked </s> to play.");
        for (String text : texts) {
            assertThat(b.encode(text)).as("ids of %s", text).containsExactly(a.encode(text));
            assertThat(b.encode(text, EncodeOptions.PLAIN_TEXT)).as("plain ids of %s", text)
                    .containsExactly(a.encode(text, EncodeOptions.PLAIN_TEXT));
        }
    }

    @Test
    void aSingleSafetensorsFileConvertsLikeItsDirectory() throws Exception {
        Path out = tmp.resolve("single-file.gguf");
        try (HfToGguf conversion = HfToGguf.open(checkpoint.resolve("model.safetensors"))) {
            conversion.write(out);
        }
        assertThat(Files.mismatch(out, converted)).as("first byte differing from the directory's conversion")
                .isEqualTo(-1L);
    }

    /** llama.cpp's own F16 file of stories260K: matrices rounded to F16, norms kept F32. */
    @Test
    void f16OutputMatchesLlamaCppsF16Tensors() throws Exception {
        Path out = tmp.resolve("f16.gguf");
        try (HfToGguf conversion = HfToGguf.open(checkpoint, GgmlType.F16)) {
            conversion.write(out);
        }
        try (GgufFile ours = GgufFile.open(out);
             GgufFile theirs = GgufFile.open(SharedTestData.testdata("models/stories260K-f16.gguf"))) {
            assertThat(ours.modelMetadata().fileType()).hasValue(1);
            for (GgufTensorInfo t : theirs.tensors()) {
                GgufTensorInfo u = ours.tensorInfo(t.name()).orElseThrow();
                if (t.type() == GgmlType.F32 || t.type() == GgmlType.F16) {
                    assertThat(u.type()).as("%s type", t.name()).isEqualTo(t.type());
                    assertThat(ours.tensorData(t.name()).mismatch(theirs.tensorData(t.name())))
                            .as("%s: first differing byte", t.name()).isEqualTo(-1L);
                }
            }
        }
    }

    @Test
    void tensorDataViewsUnchangedTensorsAndPermutesQueries() throws Exception {
        try (HfToGguf conversion = HfToGguf.open(checkpoint); GgufFile gguf = GgufFile.open(original);
             Arena arena = Arena.ofConfined()) {
            for (String name : List.of("blk.0.attn_q.weight", "blk.3.attn_k.weight", "blk.2.ffn_down.weight")) {
                assertThat(conversion.tensorData(name, arena).mismatch(gguf.tensorData(name))).as(name).isEqualTo(-1L);
            }
            assertThat(conversion.tensors()).hasSize(gguf.tensors().size());
        }
    }

    @Test
    void missingConfigJsonIsNamed() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("no-config"));
        Files.copy(checkpoint.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("config.json");
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path dir = copyOfCheckpoint("falcon");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json"))
                .replace("\"llama\"", "\"falcon\""));
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(UnsupportedArchitectureException.class)
                .hasMessageContaining("falcon");
    }

    @Test
    void truncatedSafetensorsIsNamed() throws Exception {
        Path dir = copyOfCheckpoint("truncated");
        Path shard = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(bytes, bytes.length - 1000));
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("model.safetensors").hasMessageContaining("data_offsets");
    }

    @Test
    void nonFloatTensorIsRefusedNamingItsDtype() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("int-weights"));
        tinyCheckpoint(dir, "model.layers.0.mlp.down_proj.weight", SafetensorsDType.I32);
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(CheckpointConversionException.class)
                .hasMessageContaining("model.layers.0.mlp.down_proj.weight").hasMessageContaining("I32");
    }

    @Test
    void tensorWithoutLlamaCppNameIsRefused() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("extra-tensor"));
        tinyCheckpoint(dir, "model.layers.0.self_attn.q_norm.weight", SafetensorsDType.F32);
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(CheckpointConversionException.class)
                .hasMessageContaining("q_norm");
    }

    @Test
    void missingTokenizerIsRefused() throws Exception {
        Path dir = copyOfCheckpoint("no-tokenizer");
        Files.delete(dir.resolve("tokenizer.json"));
        assertThatThrownBy(() -> HfToGguf.open(dir)).isInstanceOf(CheckpointConversionException.class)
                .hasMessageContaining("tokenizer.json");
    }

    @Test
    void quantizedOutputTypeIsRefused() {
        assertThatThrownBy(() -> HfToGguf.open(checkpoint, GgmlType.Q8_0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q8_0");
    }

    private static Path copyOfCheckpoint(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        try (var files = Files.list(checkpoint)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    /** A one-layer checkpoint with an embedding and one more tensor. */
    private static void tinyCheckpoint(Path dir, String extra, SafetensorsDType dtype) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.create()
                    .add("model.embed_tokens.weight", SafetensorsDType.F32, new long[] {8, 4}, arena.allocate(128))
                    .add(extra, dtype, new long[] {4, 4}, arena.allocate(16L * dtype.size()))
                    .write(dir.resolve("model.safetensors"));
        }
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 4}
                """);
    }
}
