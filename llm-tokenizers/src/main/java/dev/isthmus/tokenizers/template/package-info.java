/**
 * Hugging Face chat templates: a compact, sandboxed interpreter for the Jinja subset that model
 * {@code chat_template}s use, rendering byte for byte as transformers' {@code apply_chat_template}.
 *
 * <pre>{@code
 * ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfig(Path.of("tokenizer_config.json"));
 * String prompt = config.render(
 *         List.of(ChatMessage.system("You are terse."), ChatMessage.user("Hi!")),
 *         config.defaultOptions().withAddGenerationPrompt(true).withExtra("enable_thinking", false));
 * }</pre>
 *
 * <p>Entry points: {@link dev.isthmus.tokenizers.template.ChatTemplate} (compile and render one template),
 * {@link dev.isthmus.tokenizers.template.ChatTemplateConfig} (the templates of a model, from
 * {@code tokenizer_config.json} or GGUF metadata), {@link dev.isthmus.tokenizers.template.ChatMessage},
 * {@link dev.isthmus.tokenizers.template.RenderOptions} and {@link dev.isthmus.tokenizers.template.TemplateLimits}.
 * Everything else (lexer, parser, value model, interpreter) is internal.
 */
package dev.isthmus.tokenizers.template;
