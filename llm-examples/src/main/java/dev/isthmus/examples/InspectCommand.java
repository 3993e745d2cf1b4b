package dev.isthmus.examples;

import dev.isthmus.core.gguf.GgufArray;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.tensor.BlockFormats;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Prints a GGUF file's header, metadata and tensor table, in the manner of llama.cpp's gguf-dump. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF file's metadata and tensor table.")
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "the model file (.gguf)")
    Path model;

    @Option(names = "--full-arrays", description = "print every element of long arrays")
    boolean fullArrays;

    @Option(names = "--no-tensors", description = "omit the tensor table")
    boolean noTensors;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile gguf = GgufFile.open(model)) {
            out.printf("%s: GGUF v%d, %d metadata keys, %d tensors, alignment %d, data at byte %d%n",
                    model, gguf.version(), gguf.values().size(), gguf.tensors().size(), gguf.alignment(),
                    gguf.dataOffset());
            out.println();
            out.println("* Metadata");
            int i = 1;
            for (Map.Entry<String, GgufValue> e : gguf.values().entrySet()) {
                out.printf("%5d: %-8s | %s = %s%n", i++, typeName(e.getValue()), e.getKey(), render(e.getValue()));
            }
            if (noTensors) {
                return 0;
            }
            out.println();
            out.println("* Tensors");
            out.printf("%5s  %-12s %-8s %-24s %14s %12s  %s%n", "#", "elements", "type", "dims (innermost first)",
                    "offset", "bytes", "name");
            Map<String, long[]> byType = new TreeMap<>();
            long totalBytes = 0;
            long totalElements = 0;
            i = 1;
            for (GgufTensorInfo t : gguf.tensors()) {
                out.printf("%5d  %-12d %-8s %-24s %14d %12d  %s%n", i++, t.elementCount(), t.type(),
                        Arrays.toString(t.ggufDims()), gguf.dataOffset() + t.offset(), t.byteSize(), t.name());
                long[] agg = byType.computeIfAbsent(t.type().name(), k -> new long[2]);
                agg[0]++;
                agg[1] += t.byteSize();
                totalBytes += t.byteSize();
                totalElements += t.elementCount();
            }
            out.println();
            out.printf("%d parameters, %.2f MiB of tensor data (%.2f bits per weight)%n", totalElements,
                    totalBytes / 1048576.0, totalElements == 0 ? 0 : 8.0 * totalBytes / totalElements);
            byType.forEach((type, agg) -> out.printf("  %-8s %4d tensors %10.2f MiB%s%n", type, agg[0],
                    agg[1] / 1048576.0, BlockFormats.find(dev.isthmus.core.tensor.GgmlType.valueOf(type)).isPresent()
                            ? "" : "  (kernels not on the class path)"));
        }
        return 0;
    }

    private static String typeName(GgufValue v) {
        if (v.value() instanceof GgufArray a) {
            return "[" + a.elementType() + "]";
        }
        return v.type().name();
    }

    private String render(GgufValue v) {
        if (v.value() instanceof GgufArray a) {
            int n = a.size();
            int shown = fullArrays ? n : Math.min(n, 6);
            StringBuilder sb = new StringBuilder("[");
            for (int k = 0; k < shown; k++) {
                Object e = a.get(k);
                sb.append(k == 0 ? "" : ", ").append(e instanceof String s ? quote(s) : String.valueOf(e));
            }
            if (shown < n) {
                sb.append(", ... ").append(n - shown).append(" more");
            }
            return sb.append("] (").append(n).append(" elements)").toString();
        }
        if (v.value() instanceof String s) {
            return quote(s.length() > 200 && !fullArrays ? s.substring(0, 200) + "…" : s);
        }
        return String.valueOf(v.value());
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("'");
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                case '\'' -> sb.append("\\'");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('\'').toString();
    }
}
