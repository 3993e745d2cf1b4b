package dev.isthmus.quant;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.hf.HfCheckpoint;
import dev.isthmus.core.hf.HfToGguf;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Quantizes a GGUF model the way llama.cpp's {@code llama_model_quantize} does with default parameters
 * and no importance matrix, producing the same bytes: the same per-tensor types (mixed recipes and shape
 * fallbacks included), the same encoders, tensors in the same order (by layer, then name), metadata
 * copied with {@code general.quantization_version} and {@code general.file_type} moved to the end.
 * A Hugging Face checkpoint (directory or {@code .safetensors} file with config.json) is read as the GGUF
 * {@link HfToGguf} would write from it, without writing that intermediate file.
 *
 * <pre>{@code
 * QuantizationResult r = Quantizer.gguf(QuantizationType.Q4_K_M)
 *         .threads(4)
 *         .progress(t -> System.out.println(t.name() + " -> " + t.to()))
 *         .quantize(Path.of("model-f16.gguf"), Path.of("model-q4_k_m.gguf"));
 * }</pre>
 *
 * <p>Input tensors must be F32, F16 or BF16 (re-quantizing a quantized tensor is refused, as llama.cpp
 * refuses it by default); 1-D tensors and norms are copied. The output is written streaming: each tensor is
 * encoded when the writer reaches it, so memory holds one tensor's input and output, not the model. The file
 * appears under its name only when complete; on failure no partial file is left.
 *
 * <p>Bad input:
 * <ul>
 *   <li>A tensor whose rows are not a multiple of its type's block size falls back as llama.cpp's does
 *       (Q2_K, Q3_K → Q4_0; Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0; IQ4_XS → IQ4_NL; F16 when even that
 *       block does not fit). Each fallback is reported in {@link TensorReport#fallback()} and
 *       {@link QuantizationResult#fallbacks()}, and the file stays byte-identical to llama.cpp's.</li>
 *   <li>A quantized input tensor that the recipe would convert is refused before anything is written.</li>
 *   <li>A NaN or infinite input value, or a row whose encoding is not finite (values beyond the range of
 *       the F16 block scales), is refused naming the tensor, row and element: llama.cpp stops with
 *       "quantized data validation failed" in the second case, and would encode NaN as arbitrary levels in
 *       the first.</li>
 * </ul>
 */
public final class Quantizer {
    private static final Pattern LAYER = Pattern.compile("^blk\\.(-?\\d+)\\.");
    /** Rows per parallel work item: large enough to amortise scheduling. */
    private static final int ROWS_PER_TASK = 64;

    private final QuantizationType type;
    private int threads = Runtime.getRuntime().availableProcessors();
    private QuantizationListener listener = t -> { };

    private Quantizer(QuantizationType type) {
        this.type = type;
    }

    /** A GGUF quantizer to {@code type}. */
    public static Quantizer gguf(QuantizationType type) {
        return new Quantizer(Objects.requireNonNull(type, "type"));
    }

    /** Threads encoding rows (default: available processors). Output does not depend on it. */
    public Quantizer threads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + n);
        }
        this.threads = n;
        return this;
    }

    public Quantizer progress(QuantizationListener l) {
        this.listener = Objects.requireNonNull(l, "listener");
        return this;
    }

    /** llama.cpp's tensor order: layer number first (tensors outside layers before all), then name. */
    static final Comparator<String> TENSOR_ORDER = Comparator.<String>comparingInt(Quantizer::layerOf)
            .thenComparing(Comparator.naturalOrder());

    private static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        if (!m.find()) {
            return -1;
        }
        try {
            return Integer.parseInt(m.group(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Reads {@code in} — a GGUF file, or a Hugging Face checkpoint (a directory with config.json, or a
     * {@code .safetensors} file with config.json beside it), converted on the fly as {@link HfToGguf} converts
     * it — and writes {@code out}, one tensor in memory at a time.
     *
     * @throws IOException if a file cannot be read or written
     * @throws IllegalArgumentException if a tensor is already quantized, or a type cannot be encoded
     * @throws dev.isthmus.core.hf.CheckpointConversionException if a checkpoint cannot be converted
     */
    public QuantizationResult quantize(Path in, Path out) throws IOException {
        if (HfCheckpoint.isCheckpoint(in)) {
            try (HfToGguf source = HfToGguf.open(in)) {
                return quantize(in, source.metadata(), source.tensors(), source::tensorData, out);
            }
        }
        try (GgufFile source = GgufFile.open(in)) {
            return quantize(in, source.values(), source.tensors(), (name, arena) -> source.tensorData(name), out);
        }
    }

    /** Where a tensor's input bytes come from: a view of a mapping, or a converted copy in the arena. */
    private interface TensorInput {
        MemorySegment data(String name, Arena arena);
    }

    private QuantizationResult quantize(Path in, Map<String, GgufValue> values, List<GgufTensorInfo> inputTensors,
                                        TensorInput input, Path out) throws IOException {
        List<GgufTensorInfo> tensors = new ArrayList<>(inputTensors);
        tensors.sort(Comparator.comparing(GgufTensorInfo::name, TENSOR_ORDER));
        TensorTypeRecipe recipe = new TensorTypeRecipe(type, values, tensors);
        List<TensorTypeRecipe.Choice> choices = new ArrayList<>();
        for (GgufTensorInfo t : tensors) {
            TensorTypeRecipe.Choice choice = recipe.choose(t);
            if (choice.type() != t.type()) {
                requireConvertible(in, t, choice.type());
            }
            choices.add(choice);
        }

        GgufWriter writer = GgufWriter.create();
        values.forEach(writer::put);
        writer.remove("general.quantization_version").put("general.quantization_version", GgufValue.uint32(2));
        writer.remove("general.file_type").put("general.file_type", GgufValue.uint32(type.fileType()));
        writer.remove("split.no").remove("split.count").remove("split.tensors.count");

        List<TensorReport> reports = new ArrayList<>();
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "isthmus-quantize");
            t.setDaemon(true);
            return t;
        }) : null;
        try {
            for (int i = 0; i < tensors.size(); i++) {
                GgufTensorInfo t = tensors.get(i);
                TensorTypeRecipe.Choice choice = choices.get(i);
                TensorReport report = new TensorReport(i, tensors.size(), t.name(), t.type(), choice.type(),
                        t.byteSize(), choice.type().byteSize(t.elementCount()), choice.fallback());
                // the writer calls this when it reaches the tensor, so one tensor's input and output are in memory
                writer.addTensor(t.name(), choice.type(), t.ggufDims(), target -> {
                    try (Arena arena = Arena.ofShared()) {
                        MemorySegment data = input.data(t.name(), arena);
                        if (choice.type() == t.type()) {
                            MemorySegment.copy(data, 0, target, 0, target.byteSize());
                        } else {
                            convert(in, t, data, choice.type(), target, pool);
                        }
                    }
                    reports.add(report);
                    listener.tensorDone(report);
                });
            }
            writer.write(out);
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
        return new QuantizationResult(out, type, reports);
    }

    /** Refuses, before any work, a conversion the quantizer cannot or must not do. */
    private static void requireConvertible(Path file, GgufTensorInfo t, GgmlType target) {
        if (t.type() != GgmlType.F32 && t.type() != GgmlType.F16 && t.type() != GgmlType.BF16) {
            throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' is " + t.type()
                    + "; only F32, F16 and BF16 tensors can be quantized (re-quantizing loses precision twice)");
        }
        if (!BlockFormats.require(target, "tensor '" + t.name() + "'").canQuantize()) {
            throw new IllegalArgumentException(file + ": tensor '" + t.name() + "': no encoder for " + target);
        }
    }

    private static void convert(Path file, GgufTensorInfo t, MemorySegment src, GgmlType target, MemorySegment dst,
                                ExecutorService pool) throws IOException {
        requireConvertible(file, t, target);
        BlockFormat from = BlockFormats.require(t.type(), "tensor '" + t.name() + "'");
        BlockFormat to = BlockFormats.require(target, "tensor '" + t.name() + "'");
        int rowLength = Math.toIntExact(t.ggufDims()[0]);
        long rows = t.elementCount() / rowLength;
        long srcRowBytes = t.type().byteSize(rowLength);
        long dstRowBytes = target.byteSize(rowLength);
        List<RowBatch> work = new ArrayList<>();
        for (long r0 = 0; r0 < rows; r0 += ROWS_PER_TASK) {
            long start = r0;
            long end = Math.min(rows, r0 + ROWS_PER_TASK);
            work.add(() -> {
                float[] row = new float[rowLength];
                float[] check = new float[rowLength];
                for (long r = start; r < end; r++) {
                    from.dequantize(src, r * srcRowBytes, row, 0, rowLength);
                    int bad = firstNonFinite(row);
                    if (bad >= 0) {
                        throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' row " + r + " element "
                                + bad + " is " + row[bad] + "; cannot quantize non-finite values");
                    }
                    to.quantize(row, 0, dst, r * dstRowBytes, rowLength);
                    to.dequantize(dst, r * dstRowBytes, check, 0, rowLength);
                    bad = firstNonFinite(check);
                    if (bad >= 0) {
                        throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' row " + r + ": encoded as "
                                + target + ", element " + bad + " (" + row[bad] + ") decodes to " + check[bad]
                                + "; the values exceed the range of the format's F16 scales"
                                + " (llama.cpp: quantized data validation failed)");
                    }
                }
            });
        }
        run(work, pool);
    }

    /** Index of the first NaN or infinite value, or −1. */
    static int firstNonFinite(float[] row) {
        for (int i = 0; i < row.length; i++) {
            if (!Float.isFinite(row[i])) {
                return i;
            }
        }
        return -1;
    }

    private interface RowBatch {
        void run();
    }

    private static void run(List<RowBatch> work, ExecutorService pool) throws IOException {
        if (pool == null || work.size() == 1) {
            work.forEach(RowBatch::run);
            return;
        }
        List<Future<?>> futures = new ArrayList<>();
        for (RowBatch c : work) {
            futures.add(pool.submit(c::run));
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while quantizing", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IOException(e.getCause());
            }
        }
    }
}
