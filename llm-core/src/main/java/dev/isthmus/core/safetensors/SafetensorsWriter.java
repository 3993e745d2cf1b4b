package dev.isthmus.core.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files: tensors laid out back to back in insertion order, header JSON padded with
 * spaces to a multiple of 8 bytes (as the reference writer does, so the data stays aligned).
 *
 * <pre>{@code
 * SafetensorsWriter.create()
 *     .metadata("format", "pt")
 *     .add("weight", SafetensorsDType.F32, new long[] {2, 3}, segment)
 *     .write(Path.of("out.safetensors"));
 * }</pre>
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int COPY_CHUNK = 1 << 24;

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();

    private record Pending(String name, SafetensorsDType dtype, long[] shape, MemorySegment data) {
    }

    private SafetensorsWriter() {
    }

    public static SafetensorsWriter create() {
        return new SafetensorsWriter();
    }

    /** A writer holding all of {@code source}'s metadata and tensors. */
    public static SafetensorsWriter copyOf(SafetensorsFile source) {
        SafetensorsWriter w = create();
        source.metadata().forEach(w::metadata);
        for (SafetensorsTensorInfo t : source.tensors()) {
            w.add(t.name(), t.dtype(), t.shape(), source.tensorData(t.name()));
        }
        return w;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor whose {@code data} holds exactly {@code shape}'s elements of {@code dtype}. */
    public SafetensorsWriter add(String name, SafetensorsDType dtype, long[] shape, MemorySegment data) {
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved");
        }
        long elements = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension");
            }
            elements = Math.multiplyExact(elements, d);
        }
        long expected = Math.multiplyExact(elements, (long) dtype.size());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' needs " + expected + " bytes, data has "
                    + data.byteSize());
        }
        for (Pending p : tensors) {
            if (p.name.equals(name)) {
                throw new IllegalArgumentException("duplicate tensor '" + name + "'");
            }
        }
        tensors.add(new Pending(name, dtype, shape.clone(), data));
        return this;
    }

    public void write(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            write(channel);
        }
    }

    public void write(WritableByteChannel channel) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Pending p : tensors) {
            ObjectNode t = root.putObject(p.name);
            t.put("dtype", p.dtype.name());
            var shape = t.putArray("shape");
            for (long d : p.shape) {
                shape.add(d);
            }
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += p.data.byteSize();
            offsets.add(offset);
        }
        byte[] json = JSON.writeValueAsBytes(root);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer header = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(padded).put(json);
        while (header.hasRemaining()) {
            header.put((byte) ' ');
        }
        header.flip();
        writeFully(channel, header);
        for (Pending p : tensors) {
            for (long at = 0; at < p.data.byteSize(); at += COPY_CHUNK) {
                writeFully(channel, p.data.asSlice(at, Math.min(COPY_CHUNK, p.data.byteSize() - at)).asByteBuffer());
            }
        }
    }

    private static void writeFully(WritableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

}
