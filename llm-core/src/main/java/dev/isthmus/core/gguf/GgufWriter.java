package dev.isthmus.core.gguf;

import dev.isthmus.core.tensor.GgmlType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes GGUF (version 2 or 3) files: metadata in insertion order, then the tensor table, then the
 * tensor data, each tensor starting on the alignment boundary and padded with zeros to it — the layout
 * llama.cpp writes, so reading a file and writing it back reproduces it byte for byte.
 *
 * <pre>{@code
 * GgufWriter w = GgufWriter.create()
 *         .put("general.architecture", GgufValue.string("llama"))
 *         .addTensor("output_norm.weight", GgmlType.F32, new long[] {64}, data);
 * w.write(Path.of("out.gguf"));
 * }</pre>
 *
 * <p>Tensors given as a {@link TensorDataProducer} are produced one at a time while the data section is
 * written, so converting or quantizing a model needs memory for one tensor, not the model.
 */
public final class GgufWriter {
    private static final int COPY_CHUNK = 1 << 24;

    private int version = 3;
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();

    /** Exactly one of {@code data} and {@code producer} is set. */
    private record PendingTensor(String name, GgmlType type, long[] ggufDims, long byteSize, MemorySegment data,
                                 TensorDataProducer producer) {
    }

    private GgufWriter() {
    }

    public static GgufWriter create() {
        return new GgufWriter();
    }

    /** A writer holding all of {@code source}'s metadata and tensors (views of its mapping). */
    public static GgufWriter copyOf(GgufFile source) {
        GgufWriter w = create().version(Math.max(2, source.version()));
        source.values().forEach(w::put);
        for (GgufTensorInfo t : source.tensors()) {
            w.addTensor(t.name(), t.type(), t.ggufDims(), source.tensorData(t.name()));
        }
        return w;
    }

    /** GGUF version to write: 2 or 3 (the default). Version 1 is read but never written. */
    public GgufWriter version(int v) {
        if (v != 2 && v != 3) {
            throw new IllegalArgumentException("can write GGUF versions 2 and 3, not " + v);
        }
        this.version = v;
        return this;
    }

    /** Adds or replaces a metadata value (keeping its first position). */
    public GgufWriter put(String key, GgufValue value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /**
     * Adds a tensor. {@code ggufDims} are innermost first, as GGUF stores them; {@code data} must hold
     * exactly the bytes they need and stay readable until {@link #write} returns.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] ggufDims, MemorySegment data) {
        long expected = checkTensor(name, type, ggufDims);
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' needs " + expected + " bytes, data has "
                    + data.byteSize());
        }
        tensors.add(new PendingTensor(name, type, ggufDims.clone(), expected, data, null));
        return this;
    }

    /**
     * Adds a tensor whose bytes {@code producer} writes when {@link #write} reaches it (the size follows
     * from {@code type} and {@code ggufDims}).
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] ggufDims, TensorDataProducer producer) {
        long size = checkTensor(name, type, ggufDims);
        tensors.add(new PendingTensor(name, type, ggufDims.clone(), size, null,
                Objects.requireNonNull(producer, "producer")));
        return this;
    }

    /** Validates a new tensor entry and returns its byte size. */
    private long checkTensor(String name, GgmlType type, long[] ggufDims) {
        if (ggufDims.length < 1 || ggufDims.length > GgufParser.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' must have 1.." + GgufParser.MAX_DIMS + " dims");
        }
        long elements = 1;
        for (long d : ggufDims) {
            elements = Math.multiplyExact(elements, d);
        }
        for (PendingTensor t : tensors) {
            if (t.name.equals(name)) {
                throw new IllegalArgumentException("duplicate tensor '" + name + "'");
            }
        }
        return type.byteSize(elements);
    }

    private int alignment() {
        GgufValue a = metadata.get("general.alignment");
        if (a == null) {
            return GgufParser.DEFAULT_ALIGNMENT;
        }
        if (a.type() != GgufValueType.UINT32 || Long.bitCount(a.asLong()) != 1) {
            throw new IllegalStateException("general.alignment must be a UINT32 power of two, is " + a);
        }
        return (int) a.asLong();
    }

    /**
     * Writes the file, replacing {@code path} if it exists. The bytes go to a sibling temporary file that is
     * renamed at the end, so a failure half-way (a producer refusing a tensor, a full disk) leaves no
     * truncated model behind and any previous file intact.
     */
    public void write(Path path) throws IOException {
        // not Files.createTempFile: its owner-only permissions would carry over to the model file
        Path part = path.toAbsolutePath().resolveSibling(path.getFileName() + "."
                + Long.toHexString(System.nanoTime() ^ Thread.currentThread().threadId()) + ".part");
        try {
            try (FileChannel channel = FileChannel.open(part, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                write(channel);
            }
            Files.move(part, path, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(part);
            throw e;
        }
    }

    /** Writes the file to {@code channel}. */
    public void write(WritableByteChannel channel) throws IOException {
        int alignment = alignment();
        LittleEndianBuffer header = new LittleEndianBuffer();
        header.putInt(GgufParser.MAGIC);
        header.putInt(version);
        header.putLong(tensors.size());
        header.putLong(metadata.size());
        metadata.forEach((key, value) -> {
            header.putString(key);
            header.putInt(value.type().id());
            writeValue(header, value.type(), value.value());
        });
        long offset = 0;
        for (PendingTensor t : tensors) {
            header.putString(t.name);
            header.putInt(t.ggufDims.length);
            for (long d : t.ggufDims) {
                header.putLong(d);
            }
            header.putInt(t.type.id());
            header.putLong(offset);
            offset = GgufParser.align(offset + t.byteSize, alignment);
        }
        header.padTo(alignment);
        writeFully(channel, ByteBuffer.wrap(header.toByteArray()));
        for (PendingTensor t : tensors) {
            if (t.data != null) {
                writeSegment(channel, t.data);
            } else {
                // Shared: producers may fill the buffer from worker threads.
                try (Arena arena = Arena.ofShared()) {
                    MemorySegment buffer = arena.allocate(Math.max(1, t.byteSize), 64).asSlice(0, t.byteSize);
                    t.producer.produce(buffer);
                    writeSegment(channel, buffer);
                }
            }
            long padding = GgufParser.align(t.byteSize, alignment) - t.byteSize;
            writeFully(channel, ByteBuffer.allocate((int) padding));
        }
    }

    private static void writeSegment(WritableByteChannel channel, MemorySegment data) throws IOException {
        for (long at = 0; at < data.byteSize(); at += COPY_CHUNK) {
            long n = Math.min(COPY_CHUNK, data.byteSize() - at);
            writeFully(channel, data.asSlice(at, n).asByteBuffer());
        }
    }

    private static void writeFully(WritableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    private static void writeValue(LittleEndianBuffer out, GgufValueType type, Object v) {
        switch (type) {
            case UINT8, INT8 -> out.putByte(((Integer) v).byteValue());
            case UINT16, INT16 -> out.putShort(((Integer) v).shortValue());
            case INT32 -> out.putInt((Integer) v);
            case UINT32 -> out.putInt(((Long) v).intValue());
            case UINT64, INT64 -> out.putLong((Long) v);
            case FLOAT32 -> out.putInt(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> out.putLong(Double.doubleToRawLongBits((Double) v));
            case BOOL -> out.putByte((byte) ((Boolean) v ? 1 : 0));
            case STRING -> out.putString((String) v);
            case ARRAY -> writeArray(out, (GgufArray) v);
        }
    }

    private static void writeArray(LittleEndianBuffer out, GgufArray array) {
        out.putInt(array.elementType().id());
        int n = array.size();
        out.putLong(n);
        Object e = array.elements();
        switch (array.elementType()) {
            case UINT8, INT8 -> out.putBytes((byte[]) e);
            case UINT16, INT16 -> { for (short s : (short[]) e) { out.putShort(s); } }
            case UINT32, INT32 -> { for (int i : (int[]) e) { out.putInt(i); } }
            case UINT64, INT64 -> { for (long l : (long[]) e) { out.putLong(l); } }
            case FLOAT32 -> { for (float f : (float[]) e) { out.putInt(Float.floatToRawIntBits(f)); } }
            case FLOAT64 -> { for (double d : (double[]) e) { out.putLong(Double.doubleToRawLongBits(d)); } }
            case BOOL -> { for (boolean b : (boolean[]) e) { out.putByte((byte) (b ? 1 : 0)); } }
            case STRING -> { for (String s : (String[]) e) { out.putString(s); } }
            case ARRAY -> { for (GgufArray a : (GgufArray[]) e) { writeArray(out, a); } }
        }
    }

    /** A growable little-endian byte buffer for the header. */
    private static final class LittleEndianBuffer {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void putByte(byte b) {
            bytes.write(b);
        }

        void putBytes(byte[] b) {
            bytes.writeBytes(b);
        }

        void putShort(short v) {
            bytes.write(scratch.clear().putShort(v).array(), 0, 2);
        }

        void putInt(int v) {
            bytes.write(scratch.clear().putInt(v).array(), 0, 4);
        }

        void putLong(long v) {
            bytes.write(scratch.clear().putLong(v).array(), 0, 8);
        }

        void putString(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            putLong(b.length);
            putBytes(b);
        }

        void padTo(int alignment) {
            while (bytes.size() % alignment != 0) {
                bytes.write(0);
            }
        }

        byte[] toByteArray() {
            return bytes.toByteArray();
        }
    }
}
