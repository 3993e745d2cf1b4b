package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The committed PTX is what compile-kernels.sh makes of the committed CUDA sources: the manifest's source
 * hashes must match (always checked), and where the same nvcc is installed, recompiling must give the
 * same PTX byte for byte.
 */
class KernelSourcesTest {
    private static final String FIX = "the committed PTX is stale: run llm-gpu/compile-kernels.sh and commit the result";

    @TempDir
    Path tmp;

    static Properties manifest() throws IOException {
        Properties p = new Properties();
        try (InputStream in = PtxCatalog.class.getResourceAsStream("kernels.manifest")) {
            assertThat(in).as("kernels.manifest resource").isNotNull();
            p.load(in);
        }
        return p;
    }

    @Test
    void manifestHashesMatchTheSources() throws Exception {
        Properties m = manifest();
        Path src = Toolkit.moduleDir().resolve("src/main/cuda");
        List<Path> sources;
        try (var files = Files.list(src)) {
            sources = files.sorted().toList();
        }
        assertThat(sources).as("CUDA sources in %s", src).isNotEmpty();
        for (Path f : sources) {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
            assertThat(m.getProperty("sha256." + f.getFileName()))
                    .as("%s: SHA-256 of %s", FIX, f.getFileName()).isEqualTo(hash);
        }
    }

    @Test
    void manifestListsTheCatalogTargets() throws Exception {
        assertThat(manifest().getProperty("targets")).as("targets in kernels.manifest vs PtxCatalog.TARGETS")
                .isEqualTo(String.join(",", PtxCatalog.TARGETS.stream().map(String::valueOf).toList()));
    }

    @Test
    void recompilingGivesTheCommittedPtx() throws Exception {
        Optional<Path> nvcc = Toolkit.find("nvcc");
        assumeTrue(nvcc.isPresent(), "nvcc (CUDA toolkit) is not installed: PTX freshness checked by hash only");
        String version = Toolkit.run(List.of(nvcc.get().toString(), "--version")).output();
        String made = manifest().getProperty("nvcc");
        assumeTrue(version.contains(made), "the PTX was made by nvcc " + made + "; this nvcc differs, so its PTX may too");
        Path src = Toolkit.moduleDir().resolve("src/main/cuda");
        for (int target : PtxCatalog.TARGETS) {
            Path out = tmp.resolve("kernels.compute_" + target + ".ptx");
            Toolkit.Result r = Toolkit.run(List.of(nvcc.get().toString(), "-ptx", "-arch=compute_" + target, "-O3",
                    "-I", src.toString(), src.resolve("kernels.cu").toString(), "-o", out.toString()));
            assertThat(r.exitCode()).as("nvcc: %s", r.output()).isZero();
            byte[] committed = PtxCatalog.load(target);
            assertThat(Files.readString(out)).as("%s (compute_%d)", FIX, target)
                    .isEqualTo(new String(committed, 0, committed.length - 1, java.nio.charset.StandardCharsets.US_ASCII));
        }
    }
}
