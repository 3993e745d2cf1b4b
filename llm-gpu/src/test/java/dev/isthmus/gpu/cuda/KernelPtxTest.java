package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The shipped PTX assembles, with ptxas, for every GPU architecture the README promises. */
class KernelPtxTest {
    @TempDir
    Path tmp;

    static Stream<Integer> architectures() {
        return PtxCatalog.TESTED_ARCHITECTURES.stream();
    }

    @ParameterizedTest(name = "sm_{0}")
    @MethodSource("architectures")
    void ptxAssemblesForArchitecture(int arch) throws Exception {
        Optional<Path> ptxas = Toolkit.find("ptxas");
        assumeTrue(ptxas.isPresent(), "ptxas (CUDA toolkit) is not installed: PTX assembly not checked");
        int target = PtxCatalog.select(arch).orElseThrow();
        byte[] ptx = PtxCatalog.load(target);
        Path file = tmp.resolve("kernels.compute_" + target + ".ptx");
        Files.write(file, java.util.Arrays.copyOf(ptx, ptx.length - 1));
        Path cubin = tmp.resolve("sm_" + arch + ".cubin");

        Toolkit.Result r = Toolkit.run(List.of(ptxas.get().toString(), "-arch=sm_" + arch, file.toString(), "-o", cubin.toString()));

        assertThat(r.exitCode()).as("ptxas -arch=sm_%d %s:%n%s", arch, file.getFileName(), r.output()).isZero();
        assertThat(Files.size(cubin)).as("cubin for sm_%d", arch).isPositive();
    }

    @ParameterizedTest(name = "sm_{0}")
    @MethodSource("architectures")
    void everyArchitectureHasAPtxTarget(int arch) {
        assertThat(PtxCatalog.select(arch)).as("PTX for sm_%d", arch).isPresent();
        String ptx = new String(PtxCatalog.load(PtxCatalog.select(arch).getAsInt()), StandardCharsets.US_ASCII);
        assertThat(ptx).contains(".target sm_" + PtxCatalog.select(arch).getAsInt());
    }
}
