package dev.isthmus.core.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.testing.SharedTestData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tensors whose bytes a {@link TensorDataProducer} writes while the file is being written. */
class GgufStreamingWriteTest {
    @TempDir
    Path temp;

    @Test
    void producedTensorsGiveTheSameBytesAsSegments() throws Exception {
        Path model = SharedTestData.testdata("models/stories260K.gguf");
        Path out = temp.resolve("streamed.gguf");
        try (GgufFile gguf = GgufFile.open(model)) {
            GgufWriter w = GgufWriter.create();
            gguf.values().forEach(w::put);
            for (GgufTensorInfo t : gguf.tensors()) {
                w.addTensor(t.name(), t.type(), t.ggufDims(),
                        target -> MemorySegment.copy(gguf.tensorData(t.name()), 0, target, 0, target.byteSize()));
            }
            w.write(out);
        }
        assertThat(Files.mismatch(model, out)).as("first byte differing from the original").isEqualTo(-1L);
    }

    @Test
    void eachTensorIsProducedAfterEverythingBeforeItIsWritten() throws Exception {
        List<Long> writtenWhenAsked = new ArrayList<>();
        List<Long> sizes = new ArrayList<>();
        CountingChannel channel = new CountingChannel();
        GgufWriter w = GgufWriter.create().put("general.architecture", GgufValue.string("llama"));
        for (int i = 0; i < 3; i++) {
            byte fill = (byte) (i + 1);
            w.addTensor("t" + i, GgmlType.F16, new long[] {5 + i, 3}, target -> {
                writtenWhenAsked.add(channel.bytes.size() + 0L);
                sizes.add(target.byteSize());
                target.fill(fill);
            });
        }
        w.write(channel);

        GgufFile file = GgufFile.read(MemorySegment.ofArray(channel.bytes.toByteArray()));
        assertThat(sizes).as("buffer sizes: elements x 2 bytes").containsExactly(30L, 36L, 42L);
        for (int i = 0; i < 3; i++) {
            GgufTensorInfo t = file.tensorInfo("t" + i).orElseThrow();
            assertThat(writtenWhenAsked.get(i)).as("bytes out before t%d was produced", i)
                    .isEqualTo(file.dataOffset() + t.offset());
            MemorySegment data = file.tensorData("t" + i);
            assertThat(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as("t%d bytes", i)
                    .containsOnly((byte) (i + 1));
        }
    }

    @Test
    void aFailingProducerLeavesThePreviousFileUntouchedAndNoPartialFile() throws Exception {
        Path out = temp.resolve("model.gguf");
        Files.writeString(out, "previous");
        GgufWriter w = GgufWriter.create();
        w.addTensor("ok", GgmlType.F32, new long[] {4}, target -> target.fill((byte) 0));
        w.addTensor("bad", GgmlType.F32, new long[] {4}, target -> {
            throw new IOException("cannot produce tensor 'bad'");
        });
        assertThatThrownBy(() -> w.write(out)).isInstanceOf(IOException.class).hasMessageContaining("'bad'");
        assertThat(Files.readString(out)).isEqualTo("previous");
        try (var files = Files.list(temp)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("files left in the directory")
                    .containsExactly("model.gguf");
        }
    }

    @Test
    void duplicateNamesAreRefusedForProducedTensorsToo() {
        try (Arena arena = Arena.ofConfined()) {
            GgufWriter w = GgufWriter.create().addTensor("a", GgmlType.F32, new long[] {2}, arena.allocate(8));
            assertThatThrownBy(() -> w.addTensor("a", GgmlType.F32, new long[] {2}, target -> { }))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate tensor 'a'");
        }
    }

    private static final class CountingChannel implements WritableByteChannel {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            byte[] b = new byte[n];
            src.get(b);
            bytes.writeBytes(b);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }
}
