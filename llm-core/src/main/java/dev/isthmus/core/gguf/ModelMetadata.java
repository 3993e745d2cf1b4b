package dev.isthmus.core.gguf;

import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * Typed access to the hyper-parameters in GGUF metadata, resolving the {@code <architecture>.} prefix.
 * Required values throw {@link MissingMetadataException} naming the key; optional ones return empty.
 *
 * <pre>{@code
 * ModelMetadata m = gguf.modelMetadata();
 * int layers = m.blockCount();                 // reads "llama.block_count"
 * int kvHeads = m.headCountKv();               // defaults to headCount() when absent
 * }</pre>
 */
public final class ModelMetadata {
    private final Map<String, GgufValue> values;
    private final String source;

    ModelMetadata(Map<String, GgufValue> values, String source) {
        this.values = values;
        this.source = source;
    }

    /** {@code general.architecture}, e.g. {@code llama}, {@code qwen2}, {@code bert}. */
    public String architecture() {
        return requireString("general.architecture");
    }

    /** {@code general.name}, if present. */
    public Optional<String> name() {
        return optionalString("general.name");
    }

    public int contextLength() {
        return requireInt(arch("context_length"));
    }

    public int embeddingLength() {
        return requireInt(arch("embedding_length"));
    }

    public int blockCount() {
        return requireInt(arch("block_count"));
    }

    public int feedForwardLength() {
        return requireInt(arch("feed_forward_length"));
    }

    public int headCount() {
        return requireInt(arch("attention.head_count"));
    }

    /** KV heads for grouped-query attention; equals {@link #headCount()} when the key is absent. */
    public int headCountKv() {
        OptionalLong v = optionalLong(arch("attention.head_count_kv"));
        return v.isPresent() ? toInt(arch("attention.head_count_kv"), v.getAsLong()) : headCount();
    }

    /** RMSNorm epsilon. */
    public OptionalDouble rmsNormEpsilon() {
        return optionalDouble(arch("attention.layer_norm_rms_epsilon"));
    }

    /** LayerNorm epsilon. */
    public OptionalDouble layerNormEpsilon() {
        return optionalDouble(arch("attention.layer_norm_epsilon"));
    }

    /** Rotary dimensions; defaults to the head size. */
    public int ropeDimensionCount() {
        OptionalLong v = optionalLong(arch("rope.dimension_count"));
        return v.isPresent() ? toInt(arch("rope.dimension_count"), v.getAsLong()) : embeddingLength() / headCount();
    }

    /** RoPE base frequency; 10000 when absent, as in llama.cpp. */
    public double ropeFreqBase() {
        return optionalDouble(arch("rope.freq_base")).orElse(10000.0);
    }

    /** {@code general.file_type} (llama.cpp's {@code llama_ftype}), if present. */
    public OptionalLong fileType() {
        return optionalLong("general.file_type");
    }

    /** The key with the architecture prefix, e.g. {@code arch("block_count")} → {@code llama.block_count}. */
    public String arch(String suffix) {
        return architecture() + "." + suffix;
    }

    public String requireString(String key) {
        return optionalString(key).orElseThrow(() -> missing(key));
    }

    public Optional<String> optionalString(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!(v.value() instanceof String s)) {
            throw new MissingMetadataException(key, source, "must be a string, found " + v.type());
        }
        return Optional.of(s);
    }

    public int requireInt(String key) {
        return toInt(key, optionalLong(key).orElseThrow(() -> missing(key)));
    }

    public OptionalLong optionalLong(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            return OptionalLong.empty();
        }
        if (v.value() instanceof Integer || v.value() instanceof Long) {
            return OptionalLong.of(v.asLong());
        }
        throw new MissingMetadataException(key, source, "must be an integer, found " + v.type()
                + (v.type() == GgufValueType.ARRAY ? " (per-layer values are not supported here)" : ""));
    }

    public OptionalDouble optionalDouble(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            return OptionalDouble.empty();
        }
        if (v.value() instanceof Number n) {
            return OptionalDouble.of(n.doubleValue());
        }
        throw new MissingMetadataException(key, source, "must be a number, found " + v.type());
    }

    private int toInt(String key, long v) {
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new MissingMetadataException(key, source, "out of range: " + v);
        }
        return (int) v;
    }

    private MissingMetadataException missing(String key) {
        return new MissingMetadataException(key, source, "is missing");
    }
}
