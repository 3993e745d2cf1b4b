package dev.isthmus.tokenizers.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The chat templates a model ships, from {@code tokenizer_config.json} ({@code chat_template} as one string or
 * a list of {@code {name, template}}) or from GGUF metadata ({@code tokenizer.chat_template} and
 * {@code tokenizer.chat_template.<name>}), with the special-token texts the config names.
 *
 * <pre>{@code
 * ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfig(Path.of("tokenizer_config.json"));
 * String prompt = config.render(messages, config.defaultOptions().withAddGenerationPrompt(true));
 * }</pre>
 */
public final class ChatTemplateConfig {

    /** The name of the unnamed template and of the one chosen by default. */
    public static final String DEFAULT = "default";
    /** transformers picks this named template when tools are passed. */
    public static final String TOOL_USE = "tool_use";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> sources;
    private final Map<String, ChatTemplate> compiled = new java.util.concurrent.ConcurrentHashMap<>();
    private final TemplateLimits limits;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplateConfig(Map<String, String> sources, String bosToken, String eosToken, TemplateLimits limits) {
        this.sources = Collections.unmodifiableMap(new LinkedHashMap<>(sources));
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.limits = limits;
    }

    /** Reads a {@code tokenizer_config.json} file. */
    public static ChatTemplateConfig fromTokenizerConfig(Path path) throws IOException {
        try {
            return fromTokenizerConfigJson(Files.readString(path));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    /** Parses the text of a {@code tokenizer_config.json}. */
    public static ChatTemplateConfig fromTokenizerConfigJson(String json) {
        JsonNode config;
        try {
            config = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer config is not valid JSON: " + e.getMessage(), e);
        }
        if (config == null || !config.isObject()) {
            throw new IllegalArgumentException("tokenizer config must be a JSON object");
        }
        Map<String, String> sources = new LinkedHashMap<>();
        JsonNode template = config.path("chat_template");
        if (template.isTextual()) {
            sources.put(DEFAULT, template.textValue());
        } else if (template.isArray()) {
            for (JsonNode entry : template) {
                if (!entry.path("name").isTextual() || !entry.path("template").isTextual()) {
                    throw new IllegalArgumentException("chat_template list entries need string \"name\" and "
                            + "\"template\": " + entry);
                }
                sources.put(entry.get("name").textValue(), entry.get("template").textValue());
            }
        } else if (!template.isMissingNode() && !template.isNull()) {
            throw new IllegalArgumentException("chat_template must be a string or a list, not " + template.getNodeType());
        }
        return new ChatTemplateConfig(sources, tokenText(config.get("bos_token")), tokenText(config.get("eos_token")),
                TemplateLimits.DEFAULTS);
    }

    /** A special token is a string or an AddedToken object with a {@code content} field. */
    private static String tokenText(JsonNode token) {
        if (token == null || token.isNull()) {
            return null;
        }
        if (token.isTextual()) {
            return token.textValue();
        }
        JsonNode content = token.get("content");
        return content != null && content.isTextual() ? content.textValue() : null;
    }

    /**
     * Templates from GGUF metadata: {@code tokenizer.chat_template} (the default) and
     * {@code tokenizer.chat_template.<name>}. GGUF stores token ids, not texts, so pass the BOS/EOS texts
     * (looked up in the vocabulary) or null.
     */
    public static ChatTemplateConfig fromGgufMetadata(Map<String, ?> metadata, String bosToken, String eosToken) {
        Map<String, String> sources = new LinkedHashMap<>();
        String prefix = "tokenizer.chat_template";
        metadata.forEach((key, value) -> {
            if (value instanceof String text) {
                if (key.equals(prefix)) {
                    sources.put(DEFAULT, text);
                } else if (key.startsWith(prefix + ".")) {
                    sources.put(key.substring(prefix.length() + 1), text);
                }
            }
        });
        return new ChatTemplateConfig(sources, bosToken, eosToken, TemplateLimits.DEFAULTS);
    }

    /** One template string, such as a GGUF {@code tokenizer.chat_template} value, as the default template. */
    public static ChatTemplateConfig ofTemplate(String template, String bosToken, String eosToken) {
        return new ChatTemplateConfig(Map.of(DEFAULT, template), bosToken, eosToken, TemplateLimits.DEFAULTS);
    }

    /** The same templates rendered under other limits. */
    public ChatTemplateConfig withLimits(TemplateLimits limits) {
        return new ChatTemplateConfig(sources, bosToken, eosToken, limits);
    }

    /** Template names, {@value #DEFAULT} for an unnamed one. */
    public Set<String> names() {
        return sources.keySet();
    }

    public Optional<String> bosToken() {
        return Optional.ofNullable(bosToken);
    }

    public Optional<String> eosToken() {
        return Optional.ofNullable(eosToken);
    }

    /** The template called {@code name}, compiled once. */
    public ChatTemplate template(String name) {
        String source = sources.get(name);
        if (source == null) {
            throw new IllegalArgumentException("no chat template named '" + name + "'; this model has " + names());
        }
        return compiled.computeIfAbsent(name, n -> ChatTemplate.compile(source, limits));
    }

    /** The template transformers would pick: {@value #DEFAULT}, or the only one there is. */
    public ChatTemplate defaultTemplate() {
        return select(false);
    }

    /** transformers' choice: {@value #TOOL_USE} when tools are passed and it exists, else the default. */
    public ChatTemplate select(boolean withTools) {
        if (withTools && sources.containsKey(TOOL_USE)) {
            return template(TOOL_USE);
        }
        if (sources.containsKey(DEFAULT)) {
            return template(DEFAULT);
        }
        if (sources.size() == 1) {
            return template(sources.keySet().iterator().next());
        }
        throw new IllegalArgumentException(sources.isEmpty() ? "this model has no chat template"
                : "this model has several chat templates and none is named 'default': " + names());
    }

    /** Options carrying this config's BOS and EOS texts. */
    public RenderOptions defaultOptions() {
        return RenderOptions.DEFAULTS.withTokens(bosToken, eosToken);
    }

    /** Renders with the template {@link #select(boolean) transformers would pick} for these options. */
    public String render(List<ChatMessage> messages, RenderOptions options) {
        return select(options.tools() != null).render(messages, options);
    }
}
