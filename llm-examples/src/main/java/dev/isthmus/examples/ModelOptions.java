package dev.isthmus.examples;

import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that load a decoder model. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, description = "the model file (.gguf)")
    Path model;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: all processors)")
    Integer threads;

    @Option(names = {"-c", "--ctx"}, description = "context length (default: the model's)")
    Integer contextLength;

    @Option(names = "--backend", description = "cpu, cuda, ... (default: best available)")
    String backend;

    LanguageModel load() {
        var builder = Llm.builder().model(model);
        if (threads != null) {
            builder.threads(threads);
        }
        if (contextLength != null) {
            builder.contextLength(contextLength);
        }
        if (backend != null) {
            builder.backend(backend);
        }
        return builder.build();
    }
}
