package dev.isthmus.core.llm;

import dev.isthmus.core.sampling.SamplerSpec;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.template.ChatMessage;
import dev.isthmus.tokenizers.template.RenderOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A chat turn: messages rendered with the model's own chat template (generation prompt added), then
 * generated until the model ends its turn.
 *
 * <pre>{@code
 * ChatResponse reply = model.chat()
 *         .system("You are a concise assistant.")
 *         .user("Name three planets.")
 *         .maxNewTokens(64)
 *         .call();
 * }</pre>
 */
public final class ChatRequest {
    private final LanguageModel model;
    private final List<ChatMessage> messages = new ArrayList<>();
    private final CompletionRequest generation;
    private final Map<String, Object> templateVariables = new java.util.LinkedHashMap<>();
    private List<?> tools;
    private Session session;

    ChatRequest(LanguageModel model) {
        this.model = model;
        this.generation = new CompletionRequest(model, "", null);
    }

    public ChatRequest system(String content) {
        return message(ChatMessage.system(content));
    }

    public ChatRequest user(String content) {
        return message(ChatMessage.user(content));
    }

    public ChatRequest assistant(String content) {
        return message(ChatMessage.assistant(content));
    }

    public ChatRequest message(ChatMessage message) {
        messages.add(Objects.requireNonNull(message, "message"));
        return this;
    }

    public ChatRequest messages(List<ChatMessage> list) {
        list.forEach(this::message);
        return this;
    }

    /** Tool definitions passed to the template (JSON-like maps and lists). */
    public ChatRequest tools(List<?> toolDefinitions) {
        this.tools = List.copyOf(toolDefinitions);
        return this;
    }

    /** An extra template variable, e.g. {@code enable_thinking=false} for Qwen3. */
    public ChatRequest templateVariable(String name, Object value) {
        templateVariables.put(name, value);
        return this;
    }

    /** Reuse a session's KV cache (for multi-turn conversations). */
    public ChatRequest session(Session s) {
        this.session = s;
        return this;
    }

    public ChatRequest sampler(SamplerSpec spec) {
        generation.sampler(spec);
        return this;
    }

    public ChatRequest maxNewTokens(int n) {
        generation.maxNewTokens(n);
        return this;
    }

    public ChatRequest stop(String... strings) {
        generation.stop(strings);
        return this;
    }

    /** The conversation as the template renders it, with the generation prompt. */
    public String renderPrompt() {
        if (messages.isEmpty()) {
            throw new IllegalStateException("a chat needs at least one message");
        }
        RenderOptions options = model.chatTemplate().defaultOptions().withAddGenerationPrompt(true);
        if (tools != null) {
            options = options.withTools(tools);
        }
        for (Map.Entry<String, Object> e : templateVariables.entrySet()) {
            options = options.withExtra(e.getKey(), e.getValue());
        }
        return model.chatTemplate().select(tools != null).render(messages, options);
    }

    private CompletionRequest prepared() {
        String prompt = renderPrompt();
        // The template writes special tokens (and usually BOS) as text: parse them, add BOS only if missing.
        int[] ids = model.tokenizer().encode(prompt, EncodeOptions.DEFAULT.withAddSpecialTokens(false));
        int bos = model.tokenizer().bosTokenId().orElse(-1);
        if (model.defaultAddBos() && bos >= 0 && (ids.length == 0 || ids[0] != bos)) {
            int[] with = new int[ids.length + 1];
            with[0] = bos;
            System.arraycopy(ids, 0, with, 1, ids.length);
            ids = with;
        }
        CompletionRequest r = session != null ? session.complete(ids) : model.complete(ids);
        r.sampler(generation.sampler).maxNewTokens(generation.maxNewTokens).stop(generation.stops.toArray(String[]::new));
        return r;
    }

    /** Generates the reply. */
    public ChatResponse call() {
        Completion c = prepared().call();
        return new ChatResponse(c.text(), c);
    }

    /** Generates the reply, streaming tokens to {@code onToken}. */
    public ChatResponse stream(Consumer<GeneratedToken> onToken) {
        Completion c = prepared().stream(onToken);
        return new ChatResponse(c.text(), c);
    }
}
