package dev.isthmus.core.tensor;

import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The registry of {@link BlockFormat}s found on the class path.
 *
 * <pre>{@code
 * BlockFormat f = BlockFormats.require(GgmlType.Q8_0);
 * }</pre>
 */
public final class BlockFormats {
    private static final class Holder {
        static final Map<GgmlType, BlockFormat> FORMATS = load();
    }

    private BlockFormats() {
    }

    private static Map<GgmlType, BlockFormat> load() {
        Map<GgmlType, BlockFormat> found = new EnumMap<>(GgmlType.class);
        for (BlockFormat format : ServiceLoader.load(BlockFormat.class, BlockFormat.class.getClassLoader())) {
            // First registration wins so that a faster kernel placed earlier on the class path is preferred.
            found.putIfAbsent(format.type(), format);
        }
        return Map.copyOf(found);
    }

    /** The format for {@code type}, if a module on the class path provides one. */
    public static Optional<BlockFormat> find(GgmlType type) {
        return Optional.ofNullable(Holder.FORMATS.get(type));
    }

    /**
     * The format for {@code type}.
     *
     * @throws UnsupportedFormatException naming the type and the module that provides it
     */
    public static BlockFormat require(GgmlType type) {
        return require(type, "a tensor");
    }

    /** As {@link #require(GgmlType)}, naming {@code what} (e.g. the tensor) in the message. */
    public static BlockFormat require(GgmlType type, String what) {
        BlockFormat format = Holder.FORMATS.get(type);
        if (format == null) {
            throw new UnsupportedFormatException(type, what);
        }
        return format;
    }
}
