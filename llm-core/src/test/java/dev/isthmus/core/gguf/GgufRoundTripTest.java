package dev.isthmus.core.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GgufRoundTripTest {
    @TempDir
    Path temp;

    static Stream<Path> v2AndV3Models() throws IOException {
        List<Path> models = SharedTestData.ggufModels();
        Assumptions.assumeFalse(models.isEmpty(), "../shared/testdata/models is absent: round trips skipped");
        return models.stream().filter(p -> !p.getFileName().toString().contains("-v1"));
    }

    @ParameterizedTest
    @MethodSource("v2AndV3Models")
    void readingAndWritingBackIsByteIdentical(Path model) throws Exception {
        Path copy = temp.resolve(model.getFileName());
        try (GgufFile gguf = GgufFile.open(model)) {
            GgufWriter.copyOf(gguf).write(copy);
        }
        assertThat(Files.mismatch(model, copy)).as("first differing byte of %s", model.getFileName()).isEqualTo(-1L);
    }

    @Test
    void version1FilesAreRewrittenAsVersion3WithTheSameContent() throws Exception {
        Path v1 = SharedTestData.testdata("models/stories260K-gguf-v1.gguf");
        Path out = temp.resolve("v3.gguf");
        try (GgufFile gguf = GgufFile.open(v1)) {
            GgufWriter.copyOf(gguf).version(3).write(out);
        }
        try (GgufFile a = GgufFile.open(v1); GgufFile b = GgufFile.open(out)) {
            assertThat(b.version()).isEqualTo(3);
            assertThat(b.values()).isEqualTo(a.values());
            for (GgufTensorInfo t : a.tensors()) {
                assertThat(b.tensorData(t.name()).mismatch(a.tensorData(t.name()))).isEqualTo(-1L);
            }
        }
    }

    @Test
    void writerHonoursACustomAlignmentAndEveryValueType() throws Exception {
        Path out = temp.resolve("custom.gguf");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(12);
            MemorySegment b = arena.allocate(34);
            for (int i = 0; i < 12; i++) {
                a.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            GgufWriter.create()
                    .put("general.alignment", GgufValue.uint32(64))
                    .put("u8", new GgufValue(GgufValueType.UINT8, 255))
                    .put("i8", new GgufValue(GgufValueType.INT8, -3))
                    .put("u16", new GgufValue(GgufValueType.UINT16, 65535))
                    .put("i16", new GgufValue(GgufValueType.INT16, -300))
                    .put("u32", GgufValue.uint32(0xFFFF_FFFFL))
                    .put("i32", GgufValue.int32(-7))
                    .put("f32", GgufValue.float32(1.5f))
                    .put("bool", GgufValue.bool(true))
                    .put("str", GgufValue.string("héllo ▁"))
                    .put("u64", GgufValue.uint64(-1L))
                    .put("i64", new GgufValue(GgufValueType.INT64, Long.MIN_VALUE))
                    .put("f64", new GgufValue(GgufValueType.FLOAT64, Math.PI))
                    .put("nested", GgufValue.array(new GgufArray(GgufValueType.ARRAY, new GgufArray[] {
                            new GgufArray(GgufValueType.STRING, new String[] {"a", "b"}),
                            new GgufArray(GgufValueType.FLOAT32, new float[] {1f, 2f})})))
                    .addTensor("a", GgmlType.F32, new long[] {3}, a)
                    .addTensor("b", GgmlType.Q8_0, new long[] {32}, b)
                    .write(out);
        }
        try (GgufFile gguf = GgufFile.open(out)) {
            assertThat(gguf.alignment()).isEqualTo(64);
            assertThat(gguf.dataOffset() % 64).isZero();
            assertThat(gguf.tensorInfo("b").orElseThrow().offset()).isEqualTo(64);
            assertThat(gguf.metadata()).containsEntry("u8", 255).containsEntry("i8", -3).containsEntry("u16", 65535)
                    .containsEntry("i16", -300).containsEntry("u32", 0xFFFF_FFFFL).containsEntry("i32", -7)
                    .containsEntry("f32", 1.5f).containsEntry("bool", true).containsEntry("str", "héllo ▁")
                    .containsEntry("u64", -1L).containsEntry("i64", Long.MIN_VALUE).containsEntry("f64", Math.PI);
            assertThat(gguf.metadata().get("nested")).isEqualTo(List.of(List.of("a", "b"), List.of(1f, 2f)));
            assertThat(gguf.tensor("a").getFloat(0)).isEqualTo(Float.intBitsToFloat(0x03020100));
            assertThat(Files.size(out) % 64).as("file ends padded to the alignment").isZero();
        }
    }
}
