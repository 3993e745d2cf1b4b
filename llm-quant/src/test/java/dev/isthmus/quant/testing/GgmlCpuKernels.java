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
 * llama.cpp's CPU dot-product kernels ({@code ggml_vec_dot_*} and the activation quantizers
 * {@code quantize_row_q8_0/q8_1/q8_K}) from the AVX2 build of its CPU backend that the reference tools ship
 * ({@code libggml-cpu-haswell.so}): the arithmetic the integer decode kernels claim to reproduce.
 *
 * <p>Needs the library ({@link GgmlLibrary}'s folder) and a CPU with AVX2, FMA and F16C; tests skip otherwise.
 */
public final class GgmlCpuKernels {
    private static final GgmlCpuKernels INSTANCE = load();
    private static final int Q8_K_BYTES = 4 + 256 + 32;

    private final SymbolLookup lib;
    private final Linker linker = Linker.nativeLinker();

    private GgmlCpuKernels(SymbolLookup lib) throws Throwable {
        this.lib = lib;
        linker.downcallHandle(lib.find("ggml_cpu_init").orElseThrow(), FunctionDescriptor.ofVoid()).invokeExact();
    }

    private static GgmlCpuKernels load() {
        GgmlLibrary base = GgmlLibrary.orNull();
        Path dir = GgmlLibrary.directory();
        if (base == null || dir == null || !Files.exists(dir.resolve("libggml-cpu-haswell.so")) || !avx2()) {
            return null;
        }
        try {
            return new GgmlCpuKernels(SymbolLookup.libraryLookup(dir.resolve("libggml-cpu-haswell.so"), Arena.global()));
        } catch (Throwable e) {
            return null;
        }
    }

    /** Whether the CPU runs the haswell build: AVX2, FMA and F16C (read from /proc/cpuinfo). */
    private static boolean avx2() {
        try {
            String flags = Files.readString(Path.of("/proc/cpuinfo"));
            return flags.contains(" avx2") && flags.contains(" fma") && flags.contains(" f16c");
        } catch (Exception e) {
            return false;
        }
    }

    private static final FunctionDescriptor VEC_DOT = FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT);
    private static final FunctionDescriptor QUANTIZE_ROW = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
    private final java.util.Map<String, MethodHandle> handles = new java.util.concurrent.ConcurrentHashMap<>();

    /** The downcall to the library's function {@code name}, made once per function. */
    private MethodHandle handle(String name, FunctionDescriptor descriptor) {
        return handles.computeIfAbsent(name, n -> linker.downcallHandle(
                lib.find(n).orElseThrow(() -> new AssertionError("no " + n + " in libggml-cpu-haswell.so")), descriptor));
    }

    /** The kernels; skips the calling test when they are unavailable. */
    public static GgmlCpuKernels require() {
        assumeTrue(INSTANCE != null, "llama.cpp's libggml-cpu-haswell.so (and an AVX2 CPU) not found: "
                + "run ../shared/reference/ref libdir once; ggml kernel comparison skipped");
        return INSTANCE;
    }

    /**
     * {@code ggml_vec_dot_<type>_<activation type>}: one row of {@code n} weights ({@code weights}, the file's
     * blocks) times {@code activations} quantized by llama.cpp's own {@code quantize_row_<activation type>}:
     * Q8_K for the k-quants and IQ4_XS, Q8_1 for Q4_1 and Q5_1, Q8_0 for the others.
     */
    public float dot(GgmlType type, MemorySegment weights, float[] activations) {
        int n = activations.length;
        String weightName = type.name().toLowerCase(java.util.Locale.ROOT).replace("_k", "_K");
        String activation = type.name().endsWith("_K") || type == GgmlType.IQ4_XS ? "q8_K"
                : type == GgmlType.Q4_1 || type == GgmlType.Q5_1 ? "q8_1" : "q8_0";
        long activationBytes = switch (activation) {
            case "q8_K" -> (long) n / 256 * Q8_K_BYTES;
            case "q8_1" -> (long) n / 32 * 36;
            default -> (long) n / 32 * 34;
        };
        String name = "ggml_vec_dot_" + weightName + "_" + activation; // e.g. ggml_vec_dot_q4_K_q8_K
        // void vec_dot(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc)
        MethodHandle dot = handle(name, VEC_DOT);
        // void quantize_row_<activation type>(const float * x, void * y, int64_t k)
        MethodHandle quantize = handle("quantize_row_" + activation, QUANTIZE_ROW);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocateFrom(ValueLayout.JAVA_FLOAT, activations);
            MemorySegment q8 = arena.allocate(activationBytes, 64);
            quantize.invokeExact(x, q8, (long) n);
            MemorySegment w = arena.allocate(weights.byteSize(), 64);
            w.copyFrom(weights);
            MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT);
            dot.invokeExact(n, s, 0L, w, 0L, q8, 0L, 1);
            return s.get(ValueLayout.JAVA_FLOAT, 0);
        } catch (Throwable e) {
            throw new AssertionError(name + " failed", e);
        }
    }
}
