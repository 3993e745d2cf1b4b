package dev.isthmus.examples;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;

/** Runs the command line in-process for tests and finds the shared reference data. */
final class Cli {
    private Cli() {
    }

    /** Exit code, standard output and standard error of one run, as strings. */
    static String[] run(String... args) {
        CommandLine cli = IsthmusCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    /** A path under ../shared; skips the test when the shared data is absent. */
    static Path shared(String relative) {
        Path p = Path.of(System.getProperty("isthmus.shared", "../shared"), relative);
        assumeTrue(Files.exists(p), "../shared/testdata is absent: " + p + " not found");
        return p;
    }
}
