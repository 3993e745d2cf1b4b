package dev.isthmus.examples;

import dev.isthmus.quant.QuantizationResult;
import dev.isthmus.quant.QuantizationType;
import dev.isthmus.quant.Quantizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Quantizes a GGUF file as llama-quantize does (same tensor types, same bytes), or a Hugging Face checkpoint as
 * convert_hf_to_gguf + llama-quantize would; f32/f16/bf16 as TYPE just converts.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize an F32/F16/BF16 model: quantize IN OUT.gguf TYPE (q4_0, q4_k_m, q6_k, ...).",
                "IN is a GGUF file, a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json)"
                        + " or a .safetensors file with those beside it; TYPE f16, bf16 or f32 converts without"
                        + " quantizing."})
final class QuantizeCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "input model: .gguf, checkpoint directory or .safetensors (F32/F16/BF16 weights)")
    Path input;

    @Parameters(index = "1", description = "output file (.gguf)")
    Path output;

    @Parameters(index = "2", description = "type as llama.cpp names it, case-insensitive: ${COMPLETION-CANDIDATES}",
            converter = TypeConverter.class, completionCandidates = TypeNames.class)
    QuantizationType type;

    @Option(names = {"-t", "--threads"}, description = "encoding threads (default: all processors)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Spec
    CommandSpec spec;

    static final class TypeConverter implements picocli.CommandLine.ITypeConverter<QuantizationType> {
        @Override
        public QuantizationType convert(String value) {
            return QuantizationType.parse(value);
        }
    }

    static final class TypeNames extends java.util.ArrayList<String> {
        TypeNames() {
            for (QuantizationType t : QuantizationType.values()) {
                add(t.name().toLowerCase(Locale.ROOT));
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        long start = System.nanoTime();
        QuantizationResult result = Quantizer.gguf(type).threads(threads).progress(t -> {
            out.printf("[%4d/%4d] %-36s %6s -> %-6s %10.2f KiB -> %10.2f KiB%s%n", t.index() + 1, t.count(), t.name(),
                    t.from(), t.to(), t.bytesIn() / 1024.0, t.bytesOut() / 1024.0,
                    t.fallback() == null ? "" : "  (fallback: " + t.fallback() + ")");
            out.flush();
        }).quantize(input, output);
        out.printf("%s: %.2f MiB -> %.2f MiB (%s, file type %d) in %.1f s%n", output, result.bytesIn() / 1048576.0,
                result.bytesOut() / 1048576.0, type.name(), type.fileType(), (System.nanoTime() - start) / 1e9);
        if (!result.fallbacks().isEmpty()) {
            out.printf("%d tensor(s) could not take the recipe's type and fell back, as llama.cpp does%n",
                    result.fallbacks().size());
        }
        return 0;
    }
}
