package dev.isthmus.tokenizers.template;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A compiled Hugging Face chat template (the Jinja {@code chat_template} of a model), rendered as
 * transformers' {@code apply_chat_template} renders it: {@code trim_blocks} and {@code lstrip_blocks} on,
 * Jinja's default undefined semantics, transformers' {@code tojson}, {@code raise_exception} and
 * {@code strftime_now}.
 *
 * <p>Templates come from model files and are untrusted. They only see the values passed in, as plain
 * strings, numbers, lists and dicts — never Java objects — and every render is bounded by
 * {@link TemplateLimits}. Compiled templates are immutable and thread-safe.
 *
 * <pre>{@code
 * ChatTemplate template = ChatTemplate.compile(config.get("chat_template").asText());
 * String prompt = template.render(
 *         List.of(ChatMessage.system("You are terse."), ChatMessage.user("Hi!")),
 *         RenderOptions.DEFAULTS.withAddGenerationPrompt(true).withTokens("<|begin_of_text|>", "<|eot_id|>"));
 * }</pre>
 */
public final class ChatTemplate {

    private final String source;
    private final SourceText text;
    private final List<Node> body;
    private final TemplateLimits limits;

    private ChatTemplate(String source, SourceText text, List<Node> body, TemplateLimits limits) {
        this.source = source;
        this.text = text;
        this.body = body;
        this.limits = limits;
    }

    /**
     * Parses a template with the {@link TemplateLimits#DEFAULTS default limits}.
     *
     * @throws TemplateSyntaxException if the template is malformed or uses unsupported tags
     */
    public static ChatTemplate compile(String source) {
        return compile(source, TemplateLimits.DEFAULTS);
    }

    /**
     * Parses a template whose renders are bounded by {@code limits}.
     *
     * @throws TemplateSyntaxException if the template is malformed or uses unsupported tags
     */
    public static ChatTemplate compile(String source, TemplateLimits limits) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(limits, "limits");
        SourceText text = new SourceText(source);
        List<Token> tokens = new Lexer(text, true, true).tokenize();
        List<Node> body = new Parser(text, tokens).parseTemplate();
        return new ChatTemplate(source, text, body, limits);
    }

    /** The template text as given. */
    public String source() {
        return source;
    }

    public TemplateLimits limits() {
        return limits;
    }

    /**
     * Renders a conversation.
     *
     * @throws TemplateException if the template raises (e.g. {@code raise_exception("...")}), misuses a value or
     *                           exceeds a limit ({@link TemplateLimitException})
     */
    public String render(List<ChatMessage> messages, RenderOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        return render(options.variables(messages), options.clock());
    }

    /**
     * Renders with arbitrary template variables — JSON-like Java values only (String, Number, Boolean, null,
     * List, Map with string keys, Jackson {@code JsonNode}).
     *
     * @throws IllegalArgumentException if a variable holds any other kind of object
     * @throws TemplateException        as for {@link #render(List, RenderOptions)}
     */
    public String render(Map<String, ?> variables, Clock clock) {
        Map<String, Value> values = new LinkedHashMap<>();
        variables.forEach((name, value) -> values.put(name, ValueMapper.toValue(value)));
        try {
            return new Interpreter(text, limits, clock).render(body, values);
        } catch (StackOverflowError e) {
            // A safety net only: syntax depth and call depth are bounded well below the default stack.
            throw new TemplateLimitException(TemplateLimitException.Limit.RECURSION_DEPTH,
                    "template recursion exhausted the Java stack (TemplateLimits.maxDepth)");
        }
    }
}
