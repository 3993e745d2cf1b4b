package dev.isthmus.core.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path temp;

    private Path writeSample(Arena arena) throws Exception {
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt").metadata("note", "ünïcode");
        int i = 0;
        for (SafetensorsDType dtype : SafetensorsDType.values()) {
            long[] shape = {2, 3};
            MemorySegment data = arena.allocate(6L * dtype.size());
            for (long b = 0; b < data.byteSize(); b++) {
                data.set(ValueLayout.JAVA_BYTE, b, (byte) (b * 7 + i));
            }
            w.add("t." + dtype.name().toLowerCase(), dtype, shape, data);
            i++;
        }
        w.add("scalar", SafetensorsDType.F32, new long[0], arena.allocate(4));
        w.add("empty", SafetensorsDType.F16, new long[] {0, 4}, arena.allocate(0));
        Path file = temp.resolve("sample.safetensors");
        w.write(file);
        return file;
    }

    @Test
    void everyDtypeRoundTripsWithMetadata() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path file = writeSample(arena);
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                assertThat(st.metadata()).containsEntry("format", "pt").containsEntry("note", "ünïcode");
                assertThat(st.tensors()).hasSize(SafetensorsDType.values().length + 2);
                int i = 0;
                for (SafetensorsDType dtype : SafetensorsDType.values()) {
                    SafetensorsTensorInfo info = st.tensorInfo("t." + dtype.name().toLowerCase()).orElseThrow();
                    assertThat(info.dtype()).isEqualTo(dtype);
                    assertThat(info.shape()).containsExactly(2, 3);
                    MemorySegment data = st.tensorData(info.name());
                    for (long b = 0; b < data.byteSize(); b++) {
                        assertThat(data.get(ValueLayout.JAVA_BYTE, b)).isEqualTo((byte) (b * 7 + i));
                    }
                    i++;
                }
                assertThat(st.tensorInfo("scalar").orElseThrow().shape()).isEmpty();
                assertThat(st.dataOffset() % 8).as("data starts 8-aligned").isZero();
            }
        }
    }

    @Test
    void rewritingAFileIsByteIdentical() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path file = writeSample(arena);
            Path copy = temp.resolve("copy.safetensors");
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                SafetensorsWriter.copyOf(st).write(copy);
            }
            assertThat(Files.mismatch(file, copy)).isEqualTo(-1L);
        }
    }

    @Test
    void floatTensorsAreMappedAsTensors() throws Exception {
        Path file = temp.resolve("w.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.ofFloats("w", arena, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            SafetensorsWriter.create().add("w", SafetensorsDType.F32, w.shape(), w.segment()).write(file);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Tensor t = st.tensor("w");
            assertThat(t.type()).isEqualTo(GgmlType.F32);
            assertThat(t.getFloat(1, 2)).isEqualTo(6f);
            assertThat(t.segment().isMapped()).isTrue();
        }
    }

    private static MemorySegment withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return MemorySegment.ofArray(b.array());
    }

    @Test
    void malformedHeadersNameTheProblem() {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertThat(SafetensorsFile.read(withHeader(ok, 8)).tensors()).hasSize(1);
        expectRejected(withHeader(ok, 4), "data_offsets");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8), "shape[0]");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                + "\"data_offsets\":[0,8]}}", 8), "overflows");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps");
        expectRejected(withHeader("{\"a\":{\"dtype\":\"F32\"}}", 0), "shape");
        expectRejected(withHeader("{\"a\":", 0), "invalid JSON");
        expectRejected(withHeader("[1,2]", 0), "'{'");
        expectRejected(withHeader("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__.k");
        expectRejected(withHeader("{\"a\":1,\"a\":2}", 0), "invalid JSON");
        MemorySegment huge = MemorySegment.ofArray(new byte[16]);
        huge.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, Long.MAX_VALUE);
        expectRejected(huge, "header length");
        expectRejected(MemorySegment.ofArray(new byte[3]), "at least 8");
    }

    @Test
    void deeplyNestedJsonIsRejectedWithoutStackOverflow() {
        String deep = "{\"__metadata__\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        expectRejected(withHeader(deep, 0), "invalid JSON");
    }

    @Test
    void truncationsAndBitFlipsNeverEscapeAsOtherExceptions() throws Exception {
        byte[] original;
        try (Arena arena = Arena.ofConfined()) {
            original = Files.readAllBytes(writeSample(arena));
        }
        SplittableRandom random = new SplittableRandom(11);
        long headerEnd = 8 + ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong();
        for (int i = 0; i < 2000; i++) {
            MemorySegment input;
            if (i % 2 == 0) {
                input = MemorySegment.ofArray(original).asSlice(0, random.nextInt(original.length));
            } else {
                byte[] copy = original.clone();
                copy[random.nextInt((int) headerEnd)] ^= (byte) (1 << random.nextInt(8));
                input = MemorySegment.ofArray(copy);
            }
            try (SafetensorsFile st = SafetensorsFile.read(input)) {
                for (SafetensorsTensorInfo t : st.tensors()) {
                    st.tensorData(t.name());
                }
            } catch (SafetensorsFormatException expected) {
                assertThat(expected.getMessage()).contains("byte");
            } catch (Throwable t) {
                fail("mutation " + i + " threw " + t, t);
            }
        }
    }

    private static void expectRejected(MemorySegment data, String fragment) {
        assertThatThrownBy(() -> SafetensorsFile.read(data)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(fragment);
    }
}
