package dev.isthmus.gpu.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The CUDA driver emulated on the host (src/test/cuda/emulator): a fake {@code libcuda.so.1} that runs the
 * real kernels.cu on the CPU, so CudaContext, CudaBackend and the kernels are tested without a GPU.
 *
 * <p>{@link #load()} builds it with g++ into {@code target/cuda-emulator/libcuda.so.1} (again only when the
 * sources change) and {@code System.load}s it. The generated bindings later open {@code "libcuda.so.1"} by
 * name, and glibc answers that with the already loaded library whose soname it is — the emulator. Hence
 * load it before anything touches {@code CuDriver} or {@link CudaProbe#system()}, and only in a JVM of its
 * own: the module's surefire runs every test class in a fresh JVM ({@code reuseForks=false}), so classes
 * that expect no driver are unaffected. Tests are skipped, saying why, where g++ or x86-64 Linux is missing.
 *
 * <pre>{@code
 * @BeforeAll
 * static void emulate() {
 *     EmulatedDriver.load();
 * }
 * // ... Backends.create("cuda", 1) now runs on the emulator
 * assertThat(EmulatedDriver.liveBytes()).isZero();
 * }</pre>
 */
final class EmulatedDriver {
    /** The name the emulator gives its one device. */
    static final String DEVICE_NAME = "Isthmus host emulator";
    /**
     * Kernel names must not interpose on other libraries (hidden by default); the soname is what makes the
     * bindings' lookup find the emulator. No control-flow protection: the fiber switch returns into another
     * stack, which a shadow stack would refuse, so the library must not claim to support one.
     */
    static final List<String> COMPILE_FLAGS = List.of("-O2", "-shared", "-fPIC", "-std=c++20", "-fvisibility=hidden",
            "-fcf-protection=none", "-Wl,-soname," + CudaProbe.DRIVER_LIBRARY);

    private static EmulatorExports exports;

    private EmulatedDriver() {
    }

    /** Builds (if needed) and loads the emulator, or skips the calling test where it cannot run. */
    static synchronized void load() {
        if (exports != null) {
            return;
        }
        String arch = System.getProperty("os.arch");
        assumeTrue(System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("linux")
                && (arch.equals("amd64") || arch.equals("x86_64")),
                "the CUDA emulator's fibers are x86-64 assembly and its loading relies on glibc; this is "
                        + System.getProperty("os.name") + " on " + arch);
        Optional<Path> gxx = Toolkit.find("g++");
        assumeTrue(gxx.isPresent(), "g++ is not installed: the CUDA emulator cannot be built");
        Path library = build(gxx.get());
        System.load(library.toString());
        CudaProbe probe = CudaProbe.system();
        if (!probe.available() || !probe.devices().getFirst().name().equals(DEVICE_NAME)) {
            // The probe ran (or the bindings bound) before the emulator was loaded, or a real driver won.
            throw new IllegalStateException("the emulator was loaded but CUDA resolves elsewhere (" + probe + "): load it in "
                    + "@BeforeAll before anything touches CudaProbe or CuDriver, in a JVM of its own");
        }
        exports = new EmulatorExports(library);
    }

    /** Device bytes allocated and not freed. */
    static long liveBytes() {
        return exports().liveBytes();
    }

    /** Kernel launches that ran so far. */
    static long launches() {
        return exports().launches();
    }

    /** The emulator's account of the last failed driver call, e.g. a deadlock's barrier counts. */
    static String lastError() {
        return exports().lastError();
    }

    /** The kernels.cu kernels the emulator runs (its {@code EMULATED} list), in order. */
    static List<String> kernelNames() {
        return exports().kernelNames();
    }

    private static synchronized EmulatorExports exports() {
        if (exports == null) {
            throw new IllegalStateException("EmulatedDriver.load() was not called");
        }
        return exports;
    }

    /** The emulator's sources: its own directory and the kernels it includes. */
    static List<Path> sources() {
        Path module = Toolkit.moduleDir();
        List<Path> files = new ArrayList<>();
        for (Path dir : List.of(module.resolve("src/test/cuda/emulator"), module.resolve("src/main/cuda"))) {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(Files::isRegularFile).sorted().forEach(files::add);
            } catch (IOException e) {
                throw new UncheckedIOException("listing " + dir, e);
            }
        }
        return files;
    }

    /** Where the built library goes: {@code target/cuda-emulator/libcuda.so.1}. */
    static Path libraryPath() {
        return Toolkit.moduleDir().resolve("target/cuda-emulator").resolve(CudaProbe.DRIVER_LIBRARY).toAbsolutePath();
    }

    static Path emulatorSource() {
        return Toolkit.moduleDir().resolve("src/test/cuda/emulator/fake_cuda.cpp");
    }

    /** Compiles the library unless the one in target/ was built from the same sources and flags. */
    private static Path build(Path gxx) {
        Path library = libraryPath();
        Path dir = library.getParent();
        Path stamp = dir.resolve(CudaProbe.DRIVER_LIBRARY + ".sha256");
        try {
            String hash = hash(gxx);
            if (Files.isRegularFile(library) && Files.isRegularFile(stamp) && Files.readString(stamp).equals(hash)) {
                return library;
            }
            Files.createDirectories(dir);
            // Built beside the target and moved into place, so a JVM never loads a half-written library.
            Path partial = Files.createTempFile(dir, "libcuda", ".so.partial");
            List<String> command = new ArrayList<>(List.of(gxx.toString()));
            command.addAll(COMPILE_FLAGS);
            command.addAll(List.of("-o", partial.toString(), emulatorSource().toString()));
            Toolkit.Result r = Toolkit.run(command);
            if (r.exitCode() != 0) {
                Files.deleteIfExists(partial);
                throw new IllegalStateException("building the CUDA emulator failed (" + String.join(" ", command) + "):\n"
                        + r.output());
            }
            Files.move(partial, library, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.writeString(stamp, hash);
            return library;
        } catch (IOException e) {
            throw new UncheckedIOException("building the CUDA emulator in " + dir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the CUDA emulator", e);
        }
    }

    /** SHA-256 over the compiler, the flags and every source's name and content. */
    private static String hash(Path gxx) throws IOException {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update((gxx + " " + String.join(" ", COMPILE_FLAGS) + "\n").getBytes(StandardCharsets.UTF_8));
            for (Path f : sources()) {
                d.update((f.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
                d.update(Files.readAllBytes(f));
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
