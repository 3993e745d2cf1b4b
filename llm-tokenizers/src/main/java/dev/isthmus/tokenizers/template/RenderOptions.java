package dev.isthmus.tokenizers.template;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The variables besides {@code messages} that transformers' {@code apply_chat_template} passes to a template.
 *
 * <pre>{@code
 * RenderOptions options = RenderOptions.DEFAULTS
 *         .withAddGenerationPrompt(true)
 *         .withTokens("<|begin_of_text|>", "<|eot_id|>")
 *         .withExtra("enable_thinking", false);
 * }</pre>
 *
 * @param addGenerationPrompt end with the header that starts the assistant's reply
 * @param tools               tool (function) schemas as JSON-like values, or null for none ({@code tools} is then
 *                            None, as in transformers)
 * @param bosToken            the {@code bos_token} text, or null to leave it undefined
 * @param eosToken            the {@code eos_token} text, or null to leave it undefined
 * @param extra               further template variables (transformers' {@code **kwargs}, e.g.
 *                            {@code enable_thinking}); JSON-like values only
 * @param clock               the time {@code strftime_now} reads; fix it for reproducible prompts
 */
public record RenderOptions(boolean addGenerationPrompt, List<?> tools, String bosToken, String eosToken,
                            Map<String, ?> extra, Clock clock) {

    /** No generation prompt, no tools, no special tokens, the system clock. */
    public static final RenderOptions DEFAULTS = new RenderOptions(false, null, null, null, Map.of(),
            Clock.systemDefaultZone());

    public RenderOptions {
        extra = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(extra, "extra")));
        Objects.requireNonNull(clock, "clock");
    }

    public RenderOptions withAddGenerationPrompt(boolean add) {
        return new RenderOptions(add, tools, bosToken, eosToken, extra, clock);
    }

    public RenderOptions withTools(List<?> tools) {
        return new RenderOptions(addGenerationPrompt, tools, bosToken, eosToken, extra, clock);
    }

    public RenderOptions withTokens(String bos, String eos) {
        return new RenderOptions(addGenerationPrompt, tools, bos, eos, extra, clock);
    }

    public RenderOptions withExtra(String name, Object value) {
        Map<String, Object> more = new LinkedHashMap<>(extra);
        more.put(name, value);
        return new RenderOptions(addGenerationPrompt, tools, bosToken, eosToken, more, clock);
    }

    public RenderOptions withClock(Clock clock) {
        return new RenderOptions(addGenerationPrompt, tools, bosToken, eosToken, extra, clock);
    }

    /** The template variables, in the precedence transformers uses: special tokens, then kwargs, then the rest. */
    Map<String, Object> variables(List<ChatMessage> messages) {
        Map<String, Object> variables = new LinkedHashMap<>();
        if (bosToken != null) {
            variables.put("bos_token", bosToken);
        }
        if (eosToken != null) {
            variables.put("eos_token", eosToken);
        }
        variables.putAll(extra);
        variables.put("messages", messages.stream().map(ChatMessage::toValue).toList());
        variables.put("tools", tools);
        variables.putIfAbsent("documents", null);
        variables.put("add_generation_prompt", addGenerationPrompt);
        return variables;
    }
}
