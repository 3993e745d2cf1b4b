package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The emulated driver stays in step with what it stands in for: it runs every kernel of the shipped PTX, it
 * exports exactly the driver functions the generated bindings call, and its definitions match cuda.h.
 */
class EmulatorSourcesTest {
    static final List<String> HELPERS = List.of("isthmus_emu_live_bytes", "isthmus_emu_launches",
            "isthmus_emu_last_error", "isthmus_emu_kernel_names");

    @BeforeAll
    static void emulate() {
        EmulatedDriver.load();
    }

    static List<String> ptxEntries() {
        byte[] ptx = PtxCatalog.load(PtxCatalog.minimumTarget());
        Matcher m = Pattern.compile("\\.entry\\s+([A-Za-z_$][A-Za-z0-9_$]*)").matcher(new String(ptx, StandardCharsets.US_ASCII));
        List<String> names = new ArrayList<>();
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void theEmulatedKernelsAreThePtxsEntries() {
        List<String> ptx = ptxEntries();
        List<String> emulated = EmulatedDriver.kernelNames();
        TreeSet<String> missing = new TreeSet<>(ptx);
        missing.removeAll(emulated);
        TreeSet<String> extra = new TreeSet<>(emulated);
        extra.removeAll(ptx);
        assertThat(missing).as("kernels in the PTX that the emulator lacks: add EMULATED(name) to the KERNELS list in "
                + "src/test/cuda/emulator/fake_cuda.cpp").isEmpty();
        assertThat(extra).as("emulated kernels missing from the PTX (run compile-kernels.sh?)").isEmpty();
        assertThat(emulated).as("each kernel once").doesNotHaveDuplicates();
    }

    @Test
    void theLibraryExportsTheBindingsFunctionsAndTheHelpersOnly() throws Exception {
        Optional<Path> nm = Toolkit.find("nm");
        assumeTrue(nm.isPresent(), "nm (binutils) is not installed: the emulator's exports are not listed");
        Toolkit.Result r = Toolkit.run(List.of(nm.get().toString(), "-D", "--defined-only", EmulatedDriver.libraryPath().toString()));
        assertThat(r.exitCode()).as("nm: %s", r.output()).isZero();
        // Strong text symbols only: the weak ones are the C++ library's template instances, which a library
        // loaded without RTLD_GLOBAL (System.load, dlopen) lends to no one.
        TreeSet<String> exported = new TreeSet<>();
        r.output().lines().map(l -> l.trim().split("\\s+")).filter(f -> f.length == 3 && f[1].equals("T"))
                .forEach(f -> exported.add(f[2]));
        TreeSet<String> expected = new TreeSet<>(bindingsFunctions());
        expected.addAll(HELPERS);
        assertThat(exported).as("the emulator's exported functions (kernels must stay hidden)")
                .containsExactlyElementsOf(expected);
    }

    /** The functions jextract generated bindings for ({@code --include-function} in cuda-driver.args). */
    static List<String> bindingsFunctions() throws Exception {
        List<String> args = Files.readAllLines(Toolkit.moduleDir().resolve("jextract/cuda-driver.args"));
        List<String> functions = new ArrayList<>();
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).trim().equals("--include-function")) {
                functions.add(args.get(i + 1).trim());
            }
        }
        assertThat(functions).as("functions in cuda-driver.args").isNotEmpty();
        return functions;
    }

    @Test
    void theDefinitionsMatchCudaH() throws Exception {
        Optional<Path> include = cudaInclude();
        assumeTrue(include.isPresent(), "cuda.h (CUDA toolkit) is not installed: the emulator's signatures are not checked");
        Path gxx = Toolkit.find("g++").orElseThrow();
        // With ISTHMUS_EMU_CUDA_H the emulator takes its types from cuda.h, whose prototypes then make any
        // definition that differs a "conflicting declaration" error.
        Toolkit.Result r = Toolkit.run(List.of(gxx.toString(), "-fsyntax-only", "-std=c++20", "-DISTHMUS_EMU_CUDA_H",
                "-I", include.get().toString(), EmulatedDriver.emulatorSource().toString()));
        assertThat(r.exitCode()).as("fake_cuda.cpp against %s/cuda.h:%n%s", include.get(), r.output()).isZero();
    }

    static Optional<Path> cudaInclude() {
        String home = System.getenv("CUDA_HOME");
        return Stream.of(home == null ? null : Path.of(home, "include"), Path.of("/usr/local/cuda/include"))
                .filter(p -> p != null && Files.isRegularFile(p.resolve("cuda.h"))).findFirst();
    }
}
