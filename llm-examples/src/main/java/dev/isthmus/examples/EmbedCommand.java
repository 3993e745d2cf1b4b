package dev.isthmus.examples;

import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.llm.Llm;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Embeds one text per input line and prints one JSON array of floats per line. */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Embed each line of a text file with a BERT-family GGUF; prints one JSON array per line.")
final class EmbedCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, description = "encoder GGUF (default: the imported all-MiniLM-L6-v2)")
    Path model;

    @Option(names = {"-i", "--input"}, required = true, description = "text file, one text per line")
    Path input;

    @Option(names = {"-t", "--threads"}, description = "worker threads")
    Integer threads;

    @Option(names = "--json", description = "print {\"text\":…, \"embedding\":[…]} objects instead of bare arrays")
    boolean json;

    @Option(names = "--truncate", description = "cut texts longer than the model's positions instead of failing")
    boolean truncate;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path path = model != null ? model : DefaultEncoder.resolve(spec.commandLine().getErr());
        List<String> lines = Files.readAllLines(input);
        var builder = Llm.encoder().model(path).truncate(truncate);
        if (threads != null) {
            builder.threads(threads);
        }
        try (Encoder encoder = builder.build()) {
            for (int start = 0; start < lines.size(); start += 32) {
                List<String> batch = lines.subList(start, Math.min(lines.size(), start + 32));
                List<float[]> vectors = encoder.embed(batch);
                for (int i = 0; i < batch.size(); i++) {
                    String array = toJson(vectors.get(i));
                    out.println(json ? "{\"text\":" + quote(batch.get(i)) + ",\"embedding\":" + array + "}" : array);
                }
            }
        }
        return 0;
    }

    static String toJson(float[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) {
            sb.append(i == 0 ? "" : ",").append(v[i]);
        }
        return sb.append(']').toString();
    }

    private static String quote(String s) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
