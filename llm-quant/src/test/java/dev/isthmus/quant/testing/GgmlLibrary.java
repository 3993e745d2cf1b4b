package dev.isthmus.quant.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.core.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * llama.cpp's own ggml ({@code libggml-base.so} from the reference tools' npm package), called through FFM
 * as the oracle for block formats: its per-type {@code to_float} and {@code ggml_quantize_chunk}.
 *
 * <p>Found through {@code -Disthmus.ggml.libdir}, {@code $ISTHMUS_GGML_LIBDIR}, or the default cache of
 * {@code ../shared/reference/ref} ({@code ~/.cache/isthmus-reference}); run {@code ref libdir} once to
 * install it. Tests skip when it is absent.
 */
public final class GgmlLibrary {
    private static final String RELATIVE = "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";
    private static final GgmlLibrary INSTANCE = load();

    private final MethodHandle typeTraits;
    private final MethodHandle quantizeChunk;
    private final MethodHandle toFloatInvoker;

    private GgmlLibrary(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        typeTraits = linker.downcallHandle(lib.find("ggml_get_type_traits").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        quantizeChunk = linker.downcallHandle(lib.find("ggml_quantize_chunk").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.ADDRESS));
        // void to_float(const void * x, float * y, int64_t k)
        toFloatInvoker = linker.downcallHandle(FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG));
    }

    private static GgmlLibrary load() {
        Path dir = libDir();
        if (dir == null) {
            return null;
        }
        try {
            return new GgmlLibrary(SymbolLookup.libraryLookup(dir.resolve("libggml-base.so"), Arena.global()));
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            return null;
        }
    }

    /** The folder holding llama.cpp's libraries, or null. */
    static Path directory() {
        return libDir();
    }

    private static Path libDir() {
        String home = System.getenv().getOrDefault("ISTHMUS_REF_HOME",
                System.getProperty("user.home") + "/.cache/isthmus-reference");
        for (String candidate : new String[] {System.getProperty("isthmus.ggml.libdir"),
                System.getenv("ISTHMUS_GGML_LIBDIR"), home + "/" + RELATIVE}) {
            if (candidate != null && Files.exists(Path.of(candidate, "libggml-base.so"))) {
                return Path.of(candidate);
            }
        }
        return null;
    }

    /** The library; skips the calling test when it is unavailable. */
    public static GgmlLibrary require() {
        assumeTrue(INSTANCE != null, "llama.cpp's libggml-base.so not found (run ../shared/reference/ref libdir once, "
                + "or set ISTHMUS_GGML_LIBDIR): ggml comparison skipped");
        return INSTANCE;
    }

    /** The library, or null when it is unavailable (for tests whose ggml comparison is an extra check). */
    public static GgmlLibrary orNull() {
        return INSTANCE;
    }

    /** ggml's {@code to_float} for {@code type} over {@code count} elements of {@code blocks}. */
    public float[] toFloat(GgmlType type, MemorySegment blocks, int count) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment traits = ((MemorySegment) typeTraits.invokeExact(type.id())).reinterpret(64);
            // struct ggml_type_traits: name, blck_size, blck_size_interleave, type_size, is_quantized, to_float, ...
            MemorySegment toFloat = traits.get(ValueLayout.ADDRESS, 40);
            MemorySegment src = arena.allocate(blocks.byteSize(), 64);
            src.copyFrom(blocks);
            MemorySegment dst = arena.allocate(4L * count, 64);
            toFloatInvoker.invokeExact(toFloat, src, dst, (long) count);
            return dst.toArray(ValueLayout.JAVA_FLOAT);
        } catch (Throwable e) {
            throw new AssertionError("ggml to_float failed for " + type, e);
        }
    }

    /** {@code ggml_quantize_chunk(type, src, …, rows, rowLength, NULL)}: what llama.cpp's quantizer writes. */
    public byte[] quantize(GgmlType type, float[] values, int rowLength) {
        try (Arena arena = Arena.ofConfined()) {
            int rows = values.length / rowLength;
            MemorySegment src = arena.allocateFrom(ValueLayout.JAVA_FLOAT, values);
            MemorySegment dst = arena.allocate(type.byteSize(values.length), 64);
            long written = (long) quantizeChunk.invokeExact(type.id(), src, dst, 0L, (long) rows, (long) rowLength,
                    MemorySegment.NULL);
            if (written != dst.byteSize()) {
                throw new AssertionError("ggml_quantize_chunk wrote " + written + " bytes, expected " + dst.byteSize());
            }
            return dst.toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable e) {
            throw new AssertionError("ggml_quantize_chunk failed for " + type, e);
        }
    }
}
