package dev.isthmus.gpu.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Finds the CUDA toolkit's programs and runs them; tests skip when a program is absent (CI without CUDA). */
final class Toolkit {
    private Toolkit() {
    }

    /** The module's directory (Maven runs tests there). */
    static Path moduleDir() {
        Path here = Path.of("").toAbsolutePath();
        return Files.isDirectory(here.resolve("src/main/cuda")) ? here : here.resolve("llm-gpu");
    }

    /** {@code name} on PATH, or under $CUDA_HOME/bin or /usr/local/cuda/bin. */
    static Optional<Path> find(String name) {
        List<Path> dirs = new ArrayList<>();
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!d.isEmpty()) {
                dirs.add(Path.of(d));
            }
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) {
            dirs.add(Path.of(cudaHome, "bin"));
        }
        dirs.add(Path.of("/usr/local/cuda/bin"));
        return dirs.stream().map(d -> d.resolve(name)).filter(Files::isExecutable).findFirst();
    }

    record Result(int exitCode, String output) {
    }

    /** Runs a command, output and errors together, failing the test if it takes over two minutes. */
    static Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + command);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
