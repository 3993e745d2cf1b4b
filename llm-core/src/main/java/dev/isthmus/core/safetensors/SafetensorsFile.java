package dev.isthmus.core.safetensors;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.UnsupportedFormatException;
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
 * An open safetensors file: header metadata, tensor table and memory-mapped data.
 *
 * <pre>{@code
 * try (SafetensorsFile st = SafetensorsFile.open(Path.of("model.safetensors"))) {
 *     Tensor w = st.tensor("model.layers.0.self_attn.q_proj.weight");
 *     String format = st.metadata().get("format");
 * }
 * }</pre>
 */
public final class SafetensorsFile implements AutoCloseable {
    private final String source;
    private final Arena arena;
    private final MemorySegment segment;
    private final Map<String, String> metadata;
    private final List<SafetensorsTensorInfo> tensors;
    private final Map<String, SafetensorsTensorInfo> byName;
    private final long dataOffset;

    private SafetensorsFile(String source, Arena arena, MemorySegment segment, SafetensorsHeader.Parsed header) {
        this.source = source;
        this.arena = arena;
        this.segment = segment;
        this.metadata = Collections.unmodifiableMap(header.metadata());
        this.tensors = header.tensors();
        Map<String, SafetensorsTensorInfo> map = new LinkedHashMap<>();
        header.tensors().forEach(t -> map.put(t.name(), t));
        this.byName = Collections.unmodifiableMap(map);
        this.dataOffset = header.dataOffset();
    }

    /**
     * Maps and validates a safetensors file.
     *
     * @throws SafetensorsFormatException if the header is malformed
     */
    public static SafetensorsFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            return new SafetensorsFile(path.toString(), arena, mapped, SafetensorsHeader.parse(mapped));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Parses bytes in a caller-owned segment; closing the result does not free it. */
    public static SafetensorsFile read(MemorySegment data) {
        return new SafetensorsFile("<memory>", null, data, SafetensorsHeader.parse(data));
    }

    /** The {@code __metadata__} strings. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensors in header order. */
    public List<SafetensorsTensorInfo> tensors() {
        return tensors;
    }

    public Optional<SafetensorsTensorInfo> tensorInfo(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** Byte offset of the data section. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The raw bytes of a tensor (a view of the mapping). */
    public MemorySegment tensorData(String name) {
        SafetensorsTensorInfo info = require(name);
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(source + " is closed");
        }
        return segment.asSlice(dataOffset + info.begin(), info.byteSize());
    }

    /**
     * A tensor view; scalars get shape {@code [1]}.
     *
     * @throws UnsupportedFormatException for dtypes Isthmus does not compute with (U8, BOOL, FP8, …)
     */
    public Tensor tensor(String name) {
        SafetensorsTensorInfo info = require(name);
        GgmlType type = info.dtype().ggmlType().orElseThrow(() -> new UnsupportedOperationException(
                "tensor '" + name + "' has dtype " + info.dtype() + ", which Isthmus cannot compute with; "
                        + "read its bytes with tensorData()"));
        long[] shape = info.shape().length == 0 ? new long[] {1} : info.shape();
        return Tensor.of(name, type, tensorData(name), shape);
    }

    private SafetensorsTensorInfo require(String name) {
        SafetensorsTensorInfo info = byName.get(name);
        if (info == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + source);
        }
        return info;
    }

    @Override
    public synchronized void close() {
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + source + ", " + tensors.size() + " tensors]";
    }
}
