package dev.isthmus.core.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.isthmus.core.gguf.GgufTensorInfo;
import dev.isthmus.core.gguf.GgufValue;
import dev.isthmus.core.gguf.GgufWriter;
import dev.isthmus.core.gguf.LlamaFileType;
import dev.isthmus.core.model.Family;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.core.safetensors.SafetensorsFile;
import dev.isthmus.core.safetensors.SafetensorsTensorInfo;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a Hugging Face checkpoint (a directory, or one {@code .safetensors} file with config.json beside it)
 * to GGUF as llama.cpp's {@code convert_hf_to_gguf.py} does for Llama/Mistral, Qwen2 and Phi-3: hyper-parameters
 * under llama.cpp's keys, tensors under llama.cpp's names, Llama q/k rows permuted to the adjacent-pair rotary
 * layout every Llama GGUF uses, Llama 3.1 rope scaling as a {@code rope_freqs.weight} tensor, the tied output
 * matrix left out, and tokenizer.json (with tokenizer_config.json) as {@code tokenizer.ggml.*} metadata.
 *
 * <pre>{@code
 * try (HfToGguf conversion = HfToGguf.open(Path.of("TinyLlama-1.1B-Chat"), GgmlType.F16)) {
 *     conversion.write(Path.of("tinyllama-f16.gguf"));
 * }
 * }</pre>
 *
 * <p>Matrices keep their dtype (F32, F16, BF16) unless an output type is given; vectors and norms are written
 * as F32, as llama.cpp writes them. Writing streams: each tensor is converted when the writer reaches it, so
 * memory holds one tensor, never the model. {@link #tensors()} and {@link #tensorData} let a quantizer read the
 * converted model without writing it first.
 *
 * <p>Refused with a named exception: a directory without config.json ({@link
 * dev.isthmus.core.model.ModelLoadException}), a {@code model_type} other than llama, mistral, qwen2, phi3
 * ({@link dev.isthmus.core.model.UnsupportedArchitectureException}), a truncated or malformed shard
 * ({@code ModelLoadException} naming the file), and a tensor with no llama.cpp name, a non-float dtype or a
 * tokenizer llama.cpp cannot represent ({@link CheckpointConversionException}).
 */
public final class HfToGguf implements AutoCloseable {
    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");
    private static final int ALIGNMENT = 32;

    private final HfCheckpoint checkpoint;
    private final Map<String, GgufValue> metadata;
    private final List<Planned> planned;
    private final Map<String, Planned> byName = new LinkedHashMap<>();
    private final List<GgufTensorInfo> infos;

    /**
     * One output tensor.
     *
     * @param hfName       source tensor (null for rope_freqs, computed from config.json)
     * @param permuteHeads heads whose rows are permuted to adjacent rotary pairs (0: none)
     */
    private record Planned(String name, String hfName, GgmlType sourceType, GgmlType type, long[] ggufDims,
                           int permuteHeads, float[] values) {
        long elements() {
            long n = 1;
            for (long d : ggufDims) {
                n *= d;
            }
            return n;
        }
    }

    private HfToGguf(HfCheckpoint checkpoint, GgmlType outputType) throws IOException {
        this.checkpoint = checkpoint;
        ModelConfig config = checkpoint.config();
        this.planned = plan(checkpoint, config, outputType);
        planned.forEach(p -> byName.put(p.name, p));
        List<GgufTensorInfo> list = new ArrayList<>();
        long offset = 0;
        for (Planned p : planned) {
            long size = p.type.byteSize(p.elements());
            list.add(new GgufTensorInfo(p.name, p.ggufDims, p.type, offset, size));
            offset = (offset + size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        }
        this.infos = List.copyOf(list);
        GgmlType mainType = byName.get("token_embd.weight").type;
        this.metadata = Collections.unmodifiableMap(metadata(checkpoint, config, mainType));
    }

    /** Opens {@code checkpoint} keeping each matrix's dtype. */
    public static HfToGguf open(Path checkpoint) throws IOException {
        return open(checkpoint, null);
    }

    /**
     * Opens {@code checkpoint}, writing matrices as {@code outputType} (F32, F16 or BF16; null keeps their dtype).
     *
     * @throws IllegalArgumentException for another output type (quantize with llm-quant's Quantizer)
     */
    public static HfToGguf open(Path checkpoint, GgmlType outputType) throws IOException {
        if (outputType != null && outputType != GgmlType.F32 && outputType != GgmlType.F16
                && outputType != GgmlType.BF16) {
            throw new IllegalArgumentException("conversion writes F32, F16 or BF16, not " + outputType
                    + "; quantize the result (or use the Quantizer, which reads checkpoints)");
        }
        HfCheckpoint ckpt = HfCheckpoint.open(checkpoint);
        try {
            return new HfToGguf(ckpt, outputType);
        } catch (IOException | RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /** The GGUF metadata, in the order it is written. */
    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** The tensor table as it is written (offsets relative to the data section). */
    public List<GgufTensorInfo> tensors() {
        return infos;
    }

    /**
     * The bytes of tensor {@code name} as they are written: a view of the mapped shard when nothing changes,
     * otherwise a converted copy allocated in {@code arena}.
     *
     * @throws IllegalArgumentException if there is no such tensor
     */
    public MemorySegment tensorData(String name, Arena arena) {
        Planned p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in the conversion of " + checkpoint.directory());
        }
        if (p.hfName != null && p.permuteHeads == 0 && p.sourceType == p.type) {
            return source(p);
        }
        MemorySegment out = arena.allocate(p.type.byteSize(p.elements()), 64);
        fill(p, out);
        return out;
    }

    /** Writes the GGUF file, one tensor in memory at a time. */
    public void write(Path out) throws IOException {
        GgufWriter writer = GgufWriter.create();
        metadata.forEach(writer::put);
        for (Planned p : planned) {
            writer.addTensor(p.name, p.type, p.ggufDims, target -> fill(p, target));
        }
        writer.write(out);
    }

    private MemorySegment source(Planned p) {
        return checkpoint.tensorFiles().get(p.hfName).tensorData(p.hfName);
    }

    /** Writes tensor {@code p}'s output bytes, row by row: permuted, then converted. */
    private void fill(Planned p, MemorySegment target) {
        if (p.values != null) {
            MemorySegment.copy(p.values, 0, target, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, p.values.length);
            return;
        }
        MemorySegment src = source(p);
        // a permuted bias moves element by element
        int rowLength = p.permuteHeads > 0 && p.ggufDims.length == 1 ? 1 : Math.toIntExact(p.ggufDims[0]);
        long rows = p.elements() / rowLength;
        long srcRowBytes = p.sourceType.byteSize(rowLength);
        long dstRowBytes = p.type.byteSize(rowLength);
        int headRows = p.permuteHeads == 0 ? 0 : Math.toIntExact(rows / p.permuteHeads);
        BlockFormat from = BlockFormats.require(p.sourceType, "tensor '" + p.hfName + "'");
        BlockFormat to = BlockFormats.require(p.type, "tensor '" + p.name + "'");
        float[] row = p.sourceType == p.type ? null : new float[rowLength];
        for (long r = 0; r < rows; r++) {
            long s = r;
            if (headRows > 0) {
                // llama.cpp's permute: reshape (heads, 2, rows/heads/2) -> swap the last two axes
                long h = r / headRows;
                long within = r % headRows;
                s = h * headRows + (within % 2) * (headRows / 2) + within / 2;
            }
            if (row == null) {
                MemorySegment.copy(src, s * srcRowBytes, target, r * dstRowBytes, srcRowBytes);
            } else {
                from.dequantize(src, s * srcRowBytes, row, 0, rowLength);
                to.quantize(row, 0, target, r * dstRowBytes, rowLength);
            }
        }
    }

    private static List<Planned> plan(HfCheckpoint ckpt, ModelConfig config, GgmlType outputType) {
        JsonNode json = ckpt.configJson();
        boolean tied = json.path("tie_word_embeddings").asBoolean(false);
        boolean permute = config.family() == Family.LLAMA;
        List<Planned> out = new ArrayList<>();
        ckpt.ropeFrequencyFactors(config).ifPresent(f ->
                out.add(new Planned("rope_freqs.weight", null, GgmlType.F32, GgmlType.F32, new long[] {f.length}, 0, f)));
        for (Map.Entry<String, SafetensorsFile> e : ckpt.tensorFiles().entrySet()) {
            String hf = e.getKey();
            String name = HfCheckpoint.ggufName(hf);
            if (name == null && hf.endsWith("rotary_emb.inv_freq")) {
                continue; // recomputed from rope_theta at run time, as llama.cpp's converter drops it
            }
            if (name == null) {
                throw new CheckpointConversionException(e.getValue() + ": tensor '" + hf + "' has no llama.cpp name"
                        + " for model_type '" + json.path("model_type").asText() + "'");
            }
            if (name.equals("output.weight") && tied) {
                continue;
            }
            SafetensorsTensorInfo info = e.getValue().tensorInfo(hf).orElseThrow();
            GgmlType source = switch (info.dtype()) {
                case F32 -> GgmlType.F32;
                case F16 -> GgmlType.F16;
                case BF16 -> GgmlType.BF16;
                default -> throw new CheckpointConversionException(e.getValue() + ": tensor '" + hf + "' has dtype "
                        + info.dtype() + "; only F32, F16 and BF16 checkpoints can be converted");
            };
            long[] shape = info.shape();
            if (shape.length == 0 || shape.length > 2) {
                throw new CheckpointConversionException(e.getValue() + ": tensor '" + hf + "' has shape "
                        + java.util.Arrays.toString(shape) + "; a decoder weight is a vector or a matrix");
            }
            long[] dims = new long[shape.length];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = shape[shape.length - 1 - i];
            }
            boolean vector = shape.length == 1 || name.endsWith("_norm.weight");
            GgmlType type = vector ? GgmlType.F32 : outputType != null ? outputType : source;
            int heads = !permute ? 0 : name.matches("blk\\.\\d+\\.attn_q\\.(weight|bias)") ? config.heads()
                    : name.matches("blk\\.\\d+\\.attn_k\\.(weight|bias)") ? config.kvHeads() : 0;
            long rows = info.shape()[0];
            if (heads > 0 && rows % (2L * heads) != 0) {
                throw new CheckpointConversionException(e.getValue() + ": tensor '" + hf + "' has " + rows
                        + " rows, not a whole number of " + heads + " heads of rotary pairs");
            }
            out.add(new Planned(name, hf, source, type, dims, heads, null));
        }
        if (out.stream().noneMatch(p -> p.name.equals("token_embd.weight"))) {
            throw new CheckpointConversionException(ckpt.directory() + " has no model.embed_tokens.weight");
        }
        out.sort(Comparator.comparingInt(HfToGguf::position));
        return List.copyOf(out);
    }

    /** Embedding first, then the layers in order, then the output norm and matrix (a stable sort keeps shard order within). */
    private static int position(Planned p) {
        Matcher m = LAYER.matcher(p.name);
        if (m.find()) {
            return Integer.parseInt(m.group(1)) + 2;
        }
        return switch (p.name) {
            case "rope_freqs.weight" -> 0;
            case "token_embd.weight" -> 1;
            default -> Integer.MAX_VALUE;
        };
    }

    private static Map<String, GgufValue> metadata(HfCheckpoint ckpt, ModelConfig c, GgmlType mainType)
            throws IOException {
        JsonNode json = ckpt.configJson();
        String arch = c.family().name().toLowerCase(Locale.ROOT);
        Map<String, GgufValue> md = new LinkedHashMap<>();
        md.put("general.architecture", GgufValue.string(arch));
        md.put("general.type", GgufValue.string("model"));
        md.put("general.name", GgufValue.string(modelName(ckpt)));
        md.put(arch + ".block_count", GgufValue.uint32(c.layers()));
        md.put(arch + ".context_length", GgufValue.uint32(c.contextLength()));
        md.put(arch + ".embedding_length", GgufValue.uint32(c.dim()));
        md.put(arch + ".feed_forward_length", GgufValue.uint32(c.ffnDim()));
        md.put(arch + ".attention.head_count", GgufValue.uint32(c.heads()));
        md.put(arch + ".attention.head_count_kv", GgufValue.uint32(c.kvHeads()));
        md.put(arch + ".rope.freq_base", GgufValue.float32(c.ropeBase()));
        md.put(arch + ".attention.layer_norm_rms_epsilon", GgufValue.float32(c.normEps()));
        if (c.headDim() != c.dim() / c.heads()) {
            md.put(arch + ".attention.key_length", GgufValue.uint32(c.headDim()));
            md.put(arch + ".attention.value_length", GgufValue.uint32(c.headDim()));
        }
        md.put("general.file_type", GgufValue.uint32(LlamaFileType.of(mainType)));
        md.put(arch + ".vocab_size", GgufValue.uint32(c.vocabSize()));
        md.put(arch + ".rope.dimension_count", GgufValue.uint32(c.ropeDims()));
        if (c.family() == Family.PHI3) {
            JsonNode original = json.path("original_max_position_embeddings");
            if (original.canConvertToInt()) {
                md.put(arch + ".rope.scaling.original_context_length", GgufValue.uint32(original.asInt()));
            }
            if (json.path("sliding_window").canConvertToInt()) {
                md.put(arch + ".attention.sliding_window", GgufValue.uint32(json.path("sliding_window").asInt()));
            }
        }
        Path tokenizerJson = ckpt.tokenizerJson().orElseThrow(() -> new CheckpointConversionException(
                ckpt.directory() + " has no tokenizer.json; a GGUF model carries its vocabulary"));
        Path jinja = ckpt.directory().resolve("chat_template.jinja");
        md.putAll(HfTokenizerMetadata.of(tokenizerJson, ckpt.tokenizerConfig().orElse(null),
                Files.isRegularFile(jinja) ? jinja : null, c.vocabSize()));
        md.put("general.quantization_version", GgufValue.uint32(2));
        return md;
    }

    /** The repository name from config.json's {@code _name_or_path}, else the directory's name. */
    private static String modelName(HfCheckpoint ckpt) {
        String path = ckpt.configJson().path("_name_or_path").asText("").replace('\\', '/');
        String last = path.substring(path.lastIndexOf('/') + 1);
        if (!last.isBlank()) {
            return last;
        }
        return Optional.ofNullable(ckpt.directory().toAbsolutePath().normalize().getFileName())
                .map(Path::toString).orElse("model");
    }

    @Override
    public void close() {
        checkpoint.close();
    }

    @Override
    public String toString() {
        return "HfToGguf[" + Objects.toString(checkpoint.directory()) + ", " + infos.size() + " tensors]";
    }
}
