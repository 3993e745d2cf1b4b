package dev.isthmus.core.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model files that are valid GGUF but not a model Isthmus can build fail at load, naming the problem. */
class ModelLoadTest {
    @TempDir
    Path temp;

    /** Rewrites stories260K with one tensor replaced or dropped, or a metadata value changed. */
    private Path variant(String dropTensor, String renameTensorTo, String key, GgufValue value) throws Exception {
        Path out = temp.resolve("variant.gguf");
        try (GgufFile src = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"))) {
            GgufWriter w = GgufWriter.create();
            src.values().forEach(w::put);
            if (key != null) {
                w.put(key, value);
            }
            for (GgufTensorInfo t : src.tensors()) {
                if (t.name().equals(dropTensor)) {
                    if (renameTensorTo != null) {
                        // Same bytes, transposed dims: a shape that does not fit the role.
                        long[] d = t.ggufDims();
                        w.addTensor(renameTensorTo, t.type(), new long[] {d[1], d[0]}, src.tensorData(t.name()));
                    }
                    continue;
                }
                w.addTensor(t.name(), t.type(), t.ggufDims(), src.tensorData(t.name()));
            }
            w.write(out);
        }
        return out;
    }

    @Test
    void wrongShapeForARoleIsNamed() throws Exception {
        Path p = variant("blk.0.attn_k.weight", "blk.0.attn_k.weight", null, null);
        assertThatThrownBy(() -> Llm.builder().model(p).build()).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("blk.0.attn_k.weight").hasMessageContaining("expected [32, 64]");
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        Path p = variant("blk.3.ffn_down.weight", null, null, null);
        assertThatThrownBy(() -> Llm.builder().model(p).build()).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'blk.3.ffn_down.weight'");
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path p = variant(null, null, "general.architecture", GgufValue.string("falcon"));
        assertThatThrownBy(() -> Llm.builder().model(p).build()).isInstanceOf(UnsupportedArchitectureException.class)
                .hasMessageContaining("'falcon'");
    }

    @Test
    void inconsistentHeadCountsAreRefused() throws Exception {
        Path p = variant(null, null, "llama.attention.head_count_kv", GgufValue.uint32(3));
        assertThatThrownBy(() -> Llm.builder().model(p).build()).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("head_count_kv 3");
    }

    @Test
    void absurdContextLengthCannotMakeUsAllocate() throws Exception {
        Path p = variant(null, null, "llama.context_length", GgufValue.uint32(0xFFFF_FFFFL));
        assertThatThrownBy(() -> Llm.builder().model(p).build()).isInstanceOf(RuntimeException.class)
                .hasMessageContaining("context_length");
    }
}
