package dev.isthmus.core.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.backend.cpu.Rope;
import dev.isthmus.core.model.Family;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.core.model.ModelLoadException;
import dev.isthmus.core.model.TensorSource;
import dev.isthmus.core.model.UnsupportedArchitectureException;
import dev.isthmus.core.safetensors.SafetensorsFile;
import dev.isthmus.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face checkpoint directory: {@code config.json}, one or more {@code *.safetensors} shards
 * (memory-mapped) and usually {@code tokenizer.json}; or one {@code .safetensors} file with those beside it. Tensors are found under llama.cpp's names through a
 * name map, so the same forward pass runs GGUF files and checkpoints; Llama-family checkpoints keep their
 * unpermuted q/k weights and use half-split (NeoX) rotary pairs, which is the same computation.
 *
 * <pre>{@code
 * try (HfCheckpoint ckpt = HfCheckpoint.open(Path.of("TinyLlama-1.1B-Chat"))) {
 *     ModelConfig config = ckpt.config();
 * }
 * }</pre>
 */
public final class HfCheckpoint implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+)");
    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> LAYER_NAMES = Map.ofEntries(
            Map.entry("attn_norm.weight", "input_layernorm.weight"),
            Map.entry("attn_q.weight", "self_attn.q_proj.weight"),
            Map.entry("attn_q.bias", "self_attn.q_proj.bias"),
            Map.entry("attn_k.weight", "self_attn.k_proj.weight"),
            Map.entry("attn_k.bias", "self_attn.k_proj.bias"),
            Map.entry("attn_v.weight", "self_attn.v_proj.weight"),
            Map.entry("attn_v.bias", "self_attn.v_proj.bias"),
            Map.entry("attn_qkv.weight", "self_attn.qkv_proj.weight"),
            Map.entry("attn_output.weight", "self_attn.o_proj.weight"),
            Map.entry("ffn_norm.weight", "post_attention_layernorm.weight"),
            Map.entry("ffn_gate.weight", "mlp.gate_proj.weight"),
            Map.entry("ffn_up.weight", "mlp.up_proj.weight"),
            Map.entry("ffn_down.weight", "mlp.down_proj.weight"));

    private final Path dir;
    private final JsonNode config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byName;

    private HfCheckpoint(Path dir, JsonNode config, List<SafetensorsFile> files, Map<String, SafetensorsFile> byName) {
        this.dir = dir;
        this.config = config;
        this.files = files;
        this.byName = byName;
    }

    /**
     * Whether {@code path} looks like a checkpoint: a directory with a config.json, or a {@code .safetensors}
     * file with a config.json beside it.
     */
    public static boolean isCheckpoint(Path path) {
        if (isSafetensorsFile(path)) {
            path = directoryOf(path);
        }
        return Files.isDirectory(path) && Files.isRegularFile(path.resolve("config.json"));
    }

    private static boolean isSafetensorsFile(Path path) {
        return Files.isRegularFile(path) && path.getFileName().toString().endsWith(".safetensors");
    }

    private static Path directoryOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }

    /**
     * Opens the checkpoint in {@code path}: a directory, or a single {@code .safetensors} file whose directory
     * holds config.json (and the tokenizer files).
     *
     * @throws ModelLoadException if config.json or the weights are missing or inconsistent
     */
    public static HfCheckpoint open(Path path) throws IOException {
        boolean singleFile = isSafetensorsFile(path);
        Path dir = singleFile ? directoryOf(path) : path;
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelLoadException(dir + " has no config.json: not a Hugging Face checkpoint");
        }
        JsonNode config;
        try {
            config = JSON.readTree(Files.readString(configFile));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new ModelLoadException(configFile + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (config == null || !config.isObject()) {
            throw new ModelLoadException(configFile + " must hold a JSON object");
        }
        TreeSet<String> shards = new TreeSet<>();
        Path index = dir.resolve("model.safetensors.index.json");
        if (singleFile) {
            shards.add(path.getFileName().toString());
        } else if (Files.isRegularFile(index)) {
            for (Iterator<JsonNode> it = JSON.readTree(Files.readString(index)).path("weight_map").elements(); it.hasNext(); ) {
                shards.add(it.next().asText());
            }
        } else if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
            shards.add("model.safetensors");
        }
        if (shards.isEmpty()) {
            throw new ModelLoadException(dir + " has no model.safetensors or model.safetensors.index.json");
        }
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        try {
            for (String shard : shards) {
                Path p = dir.resolve(shard).normalize();
                if (!p.startsWith(dir.normalize())) {
                    throw new ModelLoadException("shard name '" + shard + "' points outside " + dir);
                }
                SafetensorsFile f;
                try {
                    f = SafetensorsFile.open(p);
                } catch (dev.isthmus.core.safetensors.SafetensorsFormatException e) {
                    throw new ModelLoadException(p + ": " + e.getMessage());
                }
                files.add(f);
                f.tensors().forEach(t -> byName.put(t.name(), f));
            }
        } catch (IOException | RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new HfCheckpoint(dir, config, List.copyOf(files), byName);
    }

    /** The checkpoint's directory. */
    public Path directory() {
        return dir;
    }

    /** config.json as parsed. */
    JsonNode configJson() {
        return config;
    }

    /** Every tensor of the shards under its Hugging Face name, in shard order, with the shard holding it. */
    Map<String, SafetensorsFile> tensorFiles() {
        return java.util.Collections.unmodifiableMap(byName);
    }

    /** The family named by {@code model_type}. */
    public Family family() {
        String type = config.path("model_type").asText("");
        return switch (type) {
            case "llama", "mistral" -> Family.LLAMA;
            case "qwen2" -> Family.QWEN2;
            case "phi3" -> Family.PHI3;
            default -> throw new UnsupportedArchitectureException(type.isEmpty() ? "(no model_type in config.json)"
                    : type + "' in a Hugging Face checkpoint (gpt2 checkpoints: convert to GGUF");
        };
    }

    /** The hyper-parameters from config.json; the vocabulary size from the embedding table. */
    public ModelConfig config() {
        Family family = family();
        int dim = required("hidden_size");
        int heads = required("num_attention_heads");
        int kvHeads = config.has("num_key_value_heads") ? required("num_key_value_heads") : heads;
        int headDim = config.has("head_dim") && !config.get("head_dim").isNull() ? required("head_dim") : dim / heads;
        JsonNode scaling = config.path("rope_scaling");
        if (!scaling.isMissingNode() && !scaling.isNull() && !"llama3".equals(scaling.path("rope_type").asText(
                scaling.path("type").asText("")))) {
            throw new ModelLoadException("rope_scaling " + scaling + " is not supported (only llama3)");
        }
        Tensor embd = source().find("token_embd.weight").orElseThrow(() ->
                new ModelLoadException("checkpoint has no model.embed_tokens.weight"));
        return new ModelConfig(family, dim, required("num_hidden_layers"), heads, kvHeads, headDim,
                required("intermediate_size"), Math.toIntExact(embd.dim(0)),
                config.path("max_position_embeddings").asInt(4096),
                (float) config.path("rms_norm_eps").asDouble(1e-5), (float) config.path("rope_theta").asDouble(10000),
                headDim, Rope.Style.NEOX);
    }

    /**
     * Llama 3.1 rope scaling as per-pair divisors (llama.cpp's {@code rope_freqs}), or empty when the config
     * has none.
     */
    public Optional<float[]> ropeFrequencyFactors(ModelConfig c) {
        JsonNode s = config.path("rope_scaling");
        if (s.isMissingNode() || s.isNull()) {
            return Optional.empty();
        }
        double factor = s.path("factor").asDouble(8);
        double low = s.path("low_freq_factor").asDouble(1);
        double high = s.path("high_freq_factor").asDouble(4);
        double original = s.path("original_max_position_embeddings").asDouble(8192);
        double lowWavelen = original / low;
        double highWavelen = original / high;
        float[] out = new float[c.ropeDims() / 2];
        for (int i = 0; i < out.length; i++) {
            double freq = Math.pow(c.ropeBase(), -2.0 * i / c.ropeDims());
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) {
                out[i] = 1f;
            } else if (wavelen > lowWavelen) {
                out[i] = (float) factor;
            } else {
                double smooth = (original / wavelen - low) / (high - low);
                out[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return Optional.of(out);
    }

    private int required(String key) {
        JsonNode v = config.get(key);
        if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
            throw new ModelLoadException("config.json: '" + key + "' is missing or not a positive integer");
        }
        return v.asInt();
    }

    /** The checkpoint's tensors under llama.cpp names. */
    public TensorSource source() {
        return new TensorSource() {
            @Override
            public Optional<Tensor> find(String ggufName) {
                if (ggufName.equals("rope_freqs.weight")) {
                    return ropeFrequencyFactors(config()).map(f -> Tensor.ofFloats("rope_freqs (from config.json)",
                            java.lang.foreign.Arena.ofAuto(), f, f.length));
                }
                String hf = hfName(ggufName);
                if (hf != null && !byName.containsKey(hf) && fusedUpName(ggufName) != null) {
                    hf = fusedUpName(ggufName);
                }
                SafetensorsFile f = hf == null ? null : byName.get(hf);
                return f == null ? Optional.empty() : Optional.of(f.tensor(hf));
            }

            @Override
            public String describe(String ggufName) {
                String hf = hfName(ggufName);
                return hf == null ? ggufName : hf;
            }
        };
    }

    /** The Hugging Face name of a llama.cpp tensor name (null when there is no equivalent). */
    static String hfName(String gguf) {
        switch (gguf) {
            case "token_embd.weight":
                return "model.embed_tokens.weight";
            case "output_norm.weight":
                return "model.norm.weight";
            case "output.weight":
                return "lm_head.weight";
            default:
                break;
        }
        Matcher m = LAYER.matcher(gguf);
        if (m.matches()) {
            String part = LAYER_NAMES.get(m.group(2));
            return part == null ? null : "model.layers." + m.group(1) + "." + part;
        }
        return null;
    }

    /** The llama.cpp name of a Hugging Face tensor name (null when there is no equivalent). */
    static String ggufName(String hf) {
        switch (hf) {
            case "model.embed_tokens.weight":
                return "token_embd.weight";
            case "model.norm.weight":
                return "output_norm.weight";
            case "lm_head.weight":
                return "output.weight";
            default:
                break;
        }
        Matcher m = HF_LAYER.matcher(hf);
        if (!m.matches()) {
            return null;
        }
        if (m.group(2).equals("mlp.gate_up_proj.weight")) {
            return "blk." + m.group(1) + ".ffn_up.weight";
        }
        for (Map.Entry<String, String> e : LAYER_NAMES.entrySet()) {
            if (e.getValue().equals(m.group(2))) {
                return "blk." + m.group(1) + "." + e.getKey();
            }
        }
        return null;
    }

    /** Fused gate+up (Phi-3) lives under another name; the source falls back to it. */
    static String fusedUpName(String gguf) {
        Matcher m = LAYER.matcher(gguf);
        return m.matches() && m.group(2).equals("ffn_up.weight") ? "model.layers." + m.group(1) + ".mlp.gate_up_proj.weight"
                : null;
    }

    /** The tokenizer.json of the checkpoint, if present. */
    public Optional<Path> tokenizerJson() {
        Path p = dir.resolve("tokenizer.json");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** The tokenizer_config.json of the checkpoint, if present. */
    public Optional<Path> tokenizerConfig() {
        Path p = dir.resolve("tokenizer_config.json");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
