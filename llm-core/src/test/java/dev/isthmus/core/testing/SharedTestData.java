package dev.isthmus.core.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Locates the shared reference data ({@code ../shared/testdata}). Tests that need it skip, with a message
 * saying why, in a checkout that has no {@code ../shared} next to it.
 */
public final class SharedTestData {
    private SharedTestData() {
    }

    /** The shared folder, or null when absent. */
    public static Path sharedOrNull() {
        String property = System.getProperty("isthmus.shared");
        for (String candidate : new String[] {property, "../shared", "../../shared"}) {
            if (candidate != null && Files.isDirectory(Path.of(candidate, "testdata"))) {
                return Path.of(candidate).toAbsolutePath().normalize();
            }
        }
        return null;
    }

    /** A file under {@code shared/testdata}; skips the test when the shared data is absent. */
    public static Path testdata(String relative) {
        Path shared = sharedOrNull();
        assumeTrue(shared != null, "../shared/testdata is absent: reference-data tests skipped");
        Path file = shared.resolve("testdata").resolve(relative);
        assumeTrue(Files.exists(file), "reference file " + file + " is absent: test skipped");
        return file;
    }

    /** All GGUF model files in {@code shared/testdata/models} (empty when absent). */
    public static List<Path> ggufModels() throws IOException {
        Path shared = sharedOrNull();
        if (shared == null) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(shared.resolve("testdata/models"))) {
            return files.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
    }
}
