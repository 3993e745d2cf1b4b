package dev.isthmus.tokenizers.template;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared reference data: system property {@code isthmus.shared} (Surefire sets it), else ../shared. */
final class SharedData {

    private SharedData() {}

    static Path tokenizers() {
        Path dir = root().resolve("testdata/tokenizers");
        assumeTrue(Files.isDirectory(dir), "shared test data absent: " + dir + " (set -Disthmus.shared)");
        return dir;
    }

    private static Path root() {
        String property = System.getProperty("isthmus.shared");
        if (property != null && Files.isDirectory(Path.of(property))) {
            return Path.of(property);
        }
        for (String candidate : new String[] {"../shared", "../../shared"}) {
            if (Files.isDirectory(Path.of(candidate))) {
                return Path.of(candidate);
            }
        }
        return Path.of(property != null ? property : "../shared");
    }
}
