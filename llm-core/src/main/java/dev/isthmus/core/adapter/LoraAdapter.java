package dev.isthmus.core.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.safetensors.SafetensorsFile;
import dev.isthmus.core.safetensors.SafetensorsTensorInfo;
import dev.isthmus.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A LoRA adapter in the Hugging Face PEFT layout ({@code adapter_config.json} + {@code adapter_model.safetensors}):
 * for each adapted projection a pair A ({@code r × in}) and B ({@code out × r}), applied at run time as
 * {@code y += scale · (alpha / r) · B (A x)} without touching the base weights, so adapters can be swapped or
 * rescaled between requests.
 *
 * <pre>{@code
 * LoraAdapter lora = LoraAdapter.load(Path.of("my-adapter")).scale(0.8f);
 * try (LanguageModel model = Llm.builder().model(base).adapter(lora).build()) { ... }
 * }</pre>
 */
public final class LoraAdapter {
    private static final Pattern NAME = Pattern.compile(
            ".*layers\\.(\\d+)\\.(self_attn|mlp)\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
                    + "\\.lora_([AB])(?:\\.default)?\\.weight");
    private static final Map<String, String> ROLES = Map.of(
            "q_proj", "attn_q", "k_proj", "attn_k", "v_proj", "attn_v", "o_proj", "attn_output",
            "gate_proj", "ffn_gate", "up_proj", "ffn_up", "down_proj", "ffn_down");

    /** One adapted projection: A is rank × in, B is out × rank, both row-major. */
    public record Pair(int layer, String role, int rank, int in, int out, float[] a, float[] b) {
    }

    private final String source;
    private final Map<String, Pair> pairs;
    private final float alphaOverRank;
    private final float userScale;

    private LoraAdapter(String source, Map<String, Pair> pairs, float alphaOverRank, float userScale) {
        this.source = source;
        this.pairs = pairs;
        this.alphaOverRank = alphaOverRank;
        this.userScale = userScale;
    }

    /**
     * Loads a PEFT adapter: a directory with {@code adapter_config.json} and {@code adapter_model.safetensors}, or
     * the safetensors file itself (then alpha defaults to the rank, i.e. scale 1).
     *
     * @throws IllegalArgumentException for tensors that are not LoRA pairs or mismatched A/B shapes
     */
    public static LoraAdapter load(Path path) throws IOException {
        Path weights = Files.isDirectory(path) ? path.resolve("adapter_model.safetensors") : path;
        Path config = Files.isDirectory(path) ? path.resolve("adapter_config.json")
                : path.resolveSibling("adapter_config.json");
        if (!Files.isRegularFile(weights)) {
            throw new IllegalArgumentException(path + " has no adapter_model.safetensors");
        }
        Map<String, float[][]> halves = new HashMap<>();
        Map<String, long[]> shapesA = new HashMap<>();
        Map<String, long[]> shapesB = new HashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(weights)) {
            for (SafetensorsTensorInfo info : st.tensors()) {
                Matcher m = NAME.matcher(info.name());
                if (!m.matches()) {
                    throw new IllegalArgumentException("adapter tensor '" + info.name() + "' is not a LoRA A/B weight of "
                            + "a q/k/v/o/gate/up/down projection (modules_to_save and embeddings are not supported)");
                }
                String key = m.group(1) + "." + ROLES.get(m.group(3));
                Tensor t = st.tensor(info.name());
                if (t.rank() != 2) {
                    throw new IllegalArgumentException("adapter tensor '" + info.name() + "' must be 2-D");
                }
                float[][] ab = halves.computeIfAbsent(key, k -> new float[2][]);
                boolean isA = m.group(4).equals("A");
                ab[isA ? 0 : 1] = t.toFloatArray();
                (isA ? shapesA : shapesB).put(key, t.shape());
            }
        }
        int rank = -1;
        Map<String, Pair> pairs = new HashMap<>();
        for (Map.Entry<String, float[][]> e : halves.entrySet()) {
            long[] a = shapesA.get(e.getKey());
            long[] b = shapesB.get(e.getKey());
            if (a == null || b == null) {
                throw new IllegalArgumentException("adapter has only one of lora_A/lora_B for " + e.getKey());
            }
            if (a[0] != b[1]) {
                throw new IllegalArgumentException("adapter " + e.getKey() + ": lora_A rank " + a[0]
                        + " does not match lora_B rank " + b[1]);
            }
            rank = (int) a[0];
            String[] parts = e.getKey().split("\\.", 2);
            pairs.put(e.getKey(), new Pair(Integer.parseInt(parts[0]), parts[1], (int) a[0], (int) a[1], (int) b[0],
                    e.getValue()[0], e.getValue()[1]));
        }
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException(weights + " holds no LoRA weights");
        }
        float alpha = rank;
        if (Files.isRegularFile(config)) {
            JsonNode c = new ObjectMapper().readTree(Files.readString(config));
            int r = c.path("r").asInt(rank);
            alpha = (float) c.path("lora_alpha").asDouble(r);
            if (r != rank) {
                throw new IllegalArgumentException("adapter_config.json says r = " + r + " but the weights have rank " + rank);
            }
        }
        return new LoraAdapter(path.toString(), Map.copyOf(pairs), alpha / rank, 1f);
    }

    /** The same adapter with its effect multiplied by {@code s} (0 turns it off, 1 is as trained). */
    public LoraAdapter scale(float s) {
        if (!Float.isFinite(s)) {
            throw new IllegalArgumentException("scale must be finite, got " + s);
        }
        return new LoraAdapter(source, pairs, alphaOverRank, s);
    }

    /** The factor applied to B·A: user scale × alpha / r. */
    public float effectiveScale() {
        return userScale * alphaOverRank;
    }

    /** The pair adapting {@code role} (e.g. {@code attn_q}) of {@code layer}, if any. */
    public Optional<Pair> pair(int layer, String role) {
        return Optional.ofNullable(pairs.get(layer + "." + role));
    }

    public Map<String, Pair> pairs() {
        return pairs;
    }

    @Override
    public String toString() {
        return "LoraAdapter[" + source + ", " + pairs.size() + " projections, scale " + effectiveScale() + "]";
    }
}
