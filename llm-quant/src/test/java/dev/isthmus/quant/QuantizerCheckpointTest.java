package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.hf.CheckpointConversionException;
import dev.isthmus.core.safetensors.SafetensorsDType;
import dev.isthmus.core.safetensors.SafetensorsWriter;
import dev.isthmus.quant.testing.SharedFiles;
import dev.isthmus.quant.testing.StoriesCheckpoint;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Quantizing stories260K from the Hugging Face checkpoint it would have been converted from must give the
 * tensors that quantizing its GGUF gives — which the other tests hold byte-identical to llama.cpp's.
 */
class QuantizerCheckpointTest {
    /** Keys whose values come from the checkpoint's files rather than the weights. */
    private static final Set<String> FROM_CHECKPOINT_FILES = Set.of("general.name", "tokenizer.ggml.scores");
    /** What llama.cpp's converter writes and the 2023 stories260K file lacks (or the reverse). */
    private static final Set<String> CONVERTER_ONLY = Set.of("general.type", "llama.rope.freq_base", "llama.vocab_size",
            "tokenizer.ggml.pre", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token",
            "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix", "llama.tensor_data_layout");

    @TempDir
    static Path tmp;
    static Path gguf;
    static Path checkpoint;

    @BeforeAll
    static void writeCheckpoint() throws Exception {
        gguf = SharedFiles.testdata("models/stories260K.gguf");
        checkpoint = Files.createDirectories(tmp.resolve("stories260K-hf"));
        StoriesCheckpoint.write(gguf, checkpoint);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"q8_0", "q4_0", "f16"})
    void checkpointQuantizesToTheSameTensorsAsTheGguf(String type) throws Exception {
        Path fromGguf = tmp.resolve("gguf-" + type + ".gguf");
        Path fromCheckpoint = tmp.resolve("ckpt-" + type + ".gguf");
        Quantizer.gguf(QuantizationType.parse(type)).threads(2).quantize(gguf, fromGguf);
        List<TensorReport> reports = new ArrayList<>();
        Quantizer.gguf(QuantizationType.parse(type)).threads(2).progress(reports::add).quantize(checkpoint, fromCheckpoint);

        try (GgufFile a = GgufFile.open(fromGguf); GgufFile b = GgufFile.open(fromCheckpoint)) {
            assertThat(b.tensors()).extracting(GgufTensorInfo::name).as("tensor order")
                    .containsExactlyElementsOf(a.tensors().stream().map(GgufTensorInfo::name).toList());
            for (GgufTensorInfo t : a.tensors()) {
                GgufTensorInfo u = b.tensorInfo(t.name()).orElseThrow();
                assertThat(u.type()).as("%s type", t.name()).isEqualTo(t.type());
                assertThat(u.ggufDims()).as("%s dims", t.name()).containsExactly(t.ggufDims());
                assertThat(b.tensorData(t.name()).mismatch(a.tensorData(t.name()))).as("%s: first differing byte", t.name())
                        .isEqualTo(-1L);
            }
            Set<String> keys = new HashSet<>(a.values().keySet());
            keys.addAll(b.values().keySet());
            for (String key : keys) {
                if (FROM_CHECKPOINT_FILES.contains(key) || CONVERTER_ONLY.contains(key)) {
                    continue;
                }
                assertThat(b.values().get(key)).as("metadata %s", key).isEqualTo(a.values().get(key));
            }
        }
        assertThat(reports).as("one report per tensor, in output order").hasSize(48)
                .extracting(TensorReport::index).isSorted();
    }

    @Test
    void aSafetensorsFileWithConfigBesideItIsACheckpoint() throws Exception {
        Path fromDir = tmp.resolve("dir-q8_0.gguf");
        Path fromFile = tmp.resolve("file-q8_0.gguf");
        Quantizer.gguf(QuantizationType.Q8_0).threads(1).quantize(checkpoint, fromDir);
        Quantizer.gguf(QuantizationType.Q8_0).threads(1).quantize(checkpoint.resolve("model.safetensors"), fromFile);
        assertThat(Files.mismatch(fromDir, fromFile)).as("first differing byte").isEqualTo(-1L);
    }

    @Test
    void anUnconvertibleCheckpointIsRefusedAndNothingIsWritten(@TempDir Path dir) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.create()
                    .add("model.embed_tokens.weight", SafetensorsDType.F32, new long[] {8, 32}, arena.allocate(1024))
                    .add("model.layers.0.mlp.down_proj.weight", SafetensorsDType.I8, new long[] {32, 32}, arena.allocate(1024))
                    .write(dir.resolve("model.safetensors"));
        }
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 32}
                """);
        Path out = tmp.resolve("refused.gguf");
        assertThatThrownBy(() -> Quantizer.gguf(QuantizationType.Q8_0).quantize(dir, out))
                .isInstanceOf(CheckpointConversionException.class).hasMessageContaining("I8");
        assertThat(out).doesNotExist();
    }
}
