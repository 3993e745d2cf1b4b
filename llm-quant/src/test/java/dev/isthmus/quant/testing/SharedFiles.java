package dev.isthmus.quant.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared reference data ({@code ../shared/testdata}); tests that need it skip, saying why,
 * in a checkout without it.
 */
public final class SharedFiles {
    private SharedFiles() {
    }

    public static Path sharedOrNull() {
        String property = System.getProperty("isthmus.shared");
        for (String candidate : new String[] {property, "../shared", "../../shared"}) {
            if (candidate != null && Files.isDirectory(Path.of(candidate, "testdata"))) {
                return Path.of(candidate).toAbsolutePath().normalize();
            }
        }
        return null;
    }

    /** A file under {@code shared/testdata}; skips the test when absent. */
    public static Path testdata(String relative) {
        Path shared = sharedOrNull();
        assumeTrue(shared != null, "../shared/testdata is absent: reference-data test skipped");
        Path file = shared.resolve("testdata").resolve(relative);
        assumeTrue(Files.exists(file), "reference file " + file + " is absent: test skipped");
        return file;
    }
}
