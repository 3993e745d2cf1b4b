package dev.isthmus.examples;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code isthmus} command line: one entry point, one subcommand per task.
 *
 * <pre>{@code
 * ./isthmus inspect model.gguf
 * }</pre>
 */
@Command(name = "isthmus",
        mixinStandardHelpOptions = true,
        version = "isthmus 0.1.0-SNAPSHOT",
        description = "Run, inspect, tokenize and quantize language models from Java.",
        subcommands = {
                InspectCommand.class,
                GenerateCommand.class,
                ChatCommand.class,
                PerplexityCommand.class,
                BenchCommand.class,
                EmbedCommand.class,
                RagCommand.class,
                TokenizeCommand.class,
                QuantizeCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class IsthmusCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests and embedding). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** The configured command line: errors print one line naming the problem, not a stack trace. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new IsthmusCli());
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("isthmus: " + ex.getMessage());
            return 1;
        });
        return cli;
    }
}
