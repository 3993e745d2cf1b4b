package dev.isthmus.gpu.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The emulator's own exports ({@code isthmus_emu_*} in fake_cuda.cpp), which no CUDA driver has: counters
 * and diagnostics for tests. Reached through {@link EmulatedDriver}'s static methods.
 *
 * <pre>{@code
 * EmulatorExports e = new EmulatorExports(Path.of("target/cuda-emulator/libcuda.so.1").toAbsolutePath());
 * long bytes = e.liveBytes();
 * }</pre>
 */
final class EmulatorExports {
    private static final Linker LINKER = Linker.nativeLinker();

    private final MethodHandle liveBytes;
    private final MethodHandle launches;
    private final MethodHandle lastError;
    private final MethodHandle kernelNames;

    /** Binds the exports of the emulator at {@code library} (an absolute path, already loaded or not). */
    EmulatorExports(Path library) {
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
        liveBytes = bind(lookup, "isthmus_emu_live_bytes", ValueLayout.JAVA_LONG);
        launches = bind(lookup, "isthmus_emu_launches", ValueLayout.JAVA_LONG);
        lastError = bind(lookup, "isthmus_emu_last_error", ValueLayout.ADDRESS);
        kernelNames = bind(lookup, "isthmus_emu_kernel_names", ValueLayout.ADDRESS);
    }

    private static MethodHandle bind(SymbolLookup lookup, String name, ValueLayout result) {
        MemorySegment symbol = lookup.find(name)
                .orElseThrow(() -> new IllegalStateException("the CUDA emulator does not export " + name));
        return LINKER.downcallHandle(symbol, FunctionDescriptor.of(result));
    }

    /** Device bytes allocated and not freed. */
    long liveBytes() {
        try {
            return (long) liveBytes.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("isthmus_emu_live_bytes", t);
        }
    }

    /** Kernel launches that ran (passed the launch checks). */
    long launches() {
        try {
            return (long) launches.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("isthmus_emu_launches", t);
        }
    }

    /** What the emulator knows about the last failed driver call; empty if none failed. */
    String lastError() {
        try {
            return string((MemorySegment) lastError.invokeExact());
        } catch (Throwable t) {
            throw new IllegalStateException("isthmus_emu_last_error", t);
        }
    }

    /** The kernels.cu kernels in the emulator's {@code EMULATED} list, in its order. */
    List<String> kernelNames() {
        try {
            String names = string((MemorySegment) kernelNames.invokeExact());
            return Arrays.stream(names.split("\n")).filter(s -> !s.isEmpty()).toList();
        } catch (Throwable t) {
            throw new IllegalStateException("isthmus_emu_kernel_names", t);
        }
    }

    private static String string(MemorySegment p) {
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
