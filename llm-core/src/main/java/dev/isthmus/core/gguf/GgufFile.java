package dev.isthmus.core.gguf;

import dev.isthmus.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An open GGUF model file: its metadata, tensor table and memory-mapped tensor data.
 *
 * <p>The whole file is mapped read-only into an {@link Arena} that this object owns; tensors are views
 * of that mapping (never copied onto the heap) and become unusable when the file is closed. The header
 * is validated completely at open time, so a corrupt file fails here with a {@link GgufFormatException}
 * rather than later inside a computation. Instances are safe to read from several threads; closing
 * while other threads still use tensors makes their accesses fail with {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (GgufFile gguf = GgufFile.open(Path.of("model.gguf"))) {
 *     String arch = gguf.modelMetadata().architecture();
 *     Tensor embeddings = gguf.tensor("token_embd.weight");
 * }
 * }</pre>
 */
public final class GgufFile implements AutoCloseable {
    private final String source;
    private final Arena arena;
    private final MemorySegment segment;
    private final int version;
    private final Map<String, GgufValue> values;
    private final List<GgufTensorInfo> tensors;
    private final Map<String, GgufTensorInfo> tensorsByName;
    private final int alignment;
    private final long dataOffset;

    private GgufFile(String source, Arena arena, MemorySegment segment, GgufParser.Header header) {
        this.source = source;
        this.arena = arena;
        this.segment = segment;
        this.version = header.version();
        this.values = Collections.unmodifiableMap(header.metadata());
        this.tensors = header.tensors();
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (GgufTensorInfo t : tensors) {
            byName.put(t.name(), t);
        }
        this.tensorsByName = Collections.unmodifiableMap(byName);
        this.alignment = header.alignment();
        this.dataOffset = header.dataOffset();
    }

    /**
     * Maps and validates a GGUF file.
     *
     * @throws IOException         if the file cannot be read
     * @throws GgufFormatException if it is not a well-formed GGUF file
     */
    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            return new GgufFile(path.toString(), arena, mapped, GgufParser.parse(mapped));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Parses GGUF bytes held in a caller-owned segment (for example a file already in memory). Closing
     * the returned object does not free {@code data}.
     */
    public static GgufFile read(MemorySegment data) {
        return new GgufFile("<memory>", null, data, GgufParser.parse(data));
    }

    /** The GGUF version (1, 2 or 3). */
    public int version() {
        return version;
    }

    /** Alignment of the tensor data in bytes. */
    public int alignment() {
        return alignment;
    }

    /** Byte offset of the data section in the file. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The typed metadata in file order. */
    public Map<String, GgufValue> values() {
        return values;
    }

    /** One metadata value. */
    public Optional<GgufValue> value(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /**
     * The metadata as plain Java values in file order: {@code String}, {@code Boolean}, boxed numbers and
     * read-only {@code List}s for arrays (the form the tokenizer loaders take).
     */
    public Map<String, Object> metadata() {
        Map<String, Object> plain = new LinkedHashMap<>();
        values.forEach((k, v) -> plain.put(k, v.plain()));
        return Collections.unmodifiableMap(plain);
    }

    /** A typed view of the model hyper-parameters. */
    public ModelMetadata modelMetadata() {
        return new ModelMetadata(values, source);
    }

    /** The tensor table in file order. */
    public List<GgufTensorInfo> tensors() {
        return tensors;
    }

    public Optional<GgufTensorInfo> tensorInfo(String name) {
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /**
     * The raw bytes of a tensor (a view of the mapping).
     *
     * @throws IllegalArgumentException if there is no such tensor
     */
    public MemorySegment tensorData(String name) {
        checkOpen();
        GgufTensorInfo info = requireInfo(name);
        return segment.asSlice(dataOffset + info.offset(), info.byteSize());
    }

    /**
     * A tensor backed by the mapping. Works for every type; arithmetic on it needs the type's
     * {@link dev.isthmus.core.tensor.BlockFormat} (see {@link Tensor#format()}).
     */
    public Tensor tensor(String name) {
        GgufTensorInfo info = requireInfo(name);
        return Tensor.of(name, info.type(), tensorData(name), info.shape());
    }

    private GgufTensorInfo requireInfo(String name) {
        GgufTensorInfo info = tensorsByName.get(name);
        if (info == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + source);
        }
        return info;
    }

    /** Whether the mapping is still usable. */
    public boolean isOpen() {
        return segment.scope().isAlive();
    }

    private void checkOpen() {
        if (!isOpen()) {
            throw new IllegalStateException(source + " is closed");
        }
    }

    /** Unmaps the file; tensors obtained from it fail from now on. Idempotent. */
    @Override
    public synchronized void close() {
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + source + ", v" + version + ", " + values.size() + " keys, " + tensors.size() + " tensors]";
    }
}
