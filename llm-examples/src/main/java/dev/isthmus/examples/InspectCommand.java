package dev.isthmus.examples;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** Prints a GGUF file's metadata and tensor table (filled in by the GGUF reader). */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF file's metadata and tensor table.")
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "the model file (.gguf)")
    Path model;

    @Override
    public Integer call() {
        throw new UnsupportedOperationException("inspect: the GGUF reader is not wired in yet");
    }
}
