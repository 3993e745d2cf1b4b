package dev.isthmus.core.llm;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.hf.HfCheckpoint;
import dev.isthmus.core.model.DecoderModel;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.HuggingFaceTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import dev.isthmus.tokenizers.template.ChatTemplateConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Configures and loads a {@link LanguageModel}. Only {@link #model} is required.
 *
 * <pre>{@code
 * LanguageModel m = Llm.builder().model(path).backend("cpu").threads(4).contextLength(2048).build();
 * }</pre>
 */
public final class LanguageModelBuilder {
    /** ChatML, the fallback llama.cpp also uses when a model carries no template. */
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private Path model;
    private Path tokenizerJson;
    private Tokenizer tokenizerOverride;
    private final java.util.List<dev.isthmus.core.adapter.LoraAdapter> adapters = new java.util.ArrayList<>();
    private String backend;
    private int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    private int contextLength;
    private String chatTemplate;

    LanguageModelBuilder() {
    }

    /** The model to load: a GGUF file, or a Hugging Face checkpoint directory (config.json + safetensors). */
    public LanguageModelBuilder model(Path path) {
        this.model = Objects.requireNonNull(path, "path");
        return this;
    }

    /** Use this Hugging Face {@code tokenizer.json} instead of the vocabulary inside the GGUF. */
    public LanguageModelBuilder tokenizer(Path tokenizerJsonPath) {
        this.tokenizerJson = tokenizerJsonPath;
        return this;
    }

    /** Applies a LoRA adapter at run time (repeatable; see {@link LanguageModel#setAdapters} to swap later). */
    public LanguageModelBuilder adapter(dev.isthmus.core.adapter.LoraAdapter adapter) {
        adapters.add(Objects.requireNonNull(adapter, "adapter"));
        return this;
    }

    /** Use this tokenizer instead of the one the model file or checkpoint carries. */
    public LanguageModelBuilder tokenizer(Tokenizer tokenizer) {
        this.tokenizerOverride = Objects.requireNonNull(tokenizer, "tokenizer");
        return this;
    }

    /** {@code "cpu"}, {@code "cuda"}, …; default: the best available. */
    public LanguageModelBuilder backend(String name) {
        this.backend = name;
        return this;
    }

    /** Worker threads (default: all processors). */
    public LanguageModelBuilder threads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be ≥ 1, got " + n);
        }
        this.threads = n;
        return this;
    }

    /** Positions per session (default and maximum: the model's trained context length). */
    public LanguageModelBuilder contextLength(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("contextLength must be ≥ 1, got " + n);
        }
        this.contextLength = n;
        return this;
    }

    /** Override the chat template (Jinja source). */
    public LanguageModelBuilder chatTemplate(String jinja) {
        this.chatTemplate = jinja;
        return this;
    }

    /**
     * Loads the model.
     *
     * @throws UncheckedIOException                                   if the file cannot be read
     * @throws dev.isthmus.core.gguf.GgufFormatException              if it is not valid GGUF
     * @throws dev.isthmus.core.model.UnsupportedArchitectureException for architectures Isthmus does not run
     * @throws dev.isthmus.core.model.ModelLoadException              for missing or misshapen tensors
     */
    public LanguageModel build() {
        if (model == null) {
            throw new IllegalStateException("no model: call model(Path) before build()");
        }
        if (HfCheckpoint.isCheckpoint(model)) {
            return buildFromCheckpoint();
        }
        GgufFile gguf;
        try {
            gguf = GgufFile.open(model);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model " + model + ": " + e.getMessage(), e);
        }
        Backend b = null;
        try {
            b = Backends.create(backend, threads);
            DecoderModel decoder = DecoderModel.load(gguf, b);
            decoder.setAdapters(adapters);
            Map<String, Object> metadata = gguf.metadata();
            Tokenizer tokenizer = tokenizerOverride != null ? tokenizerOverride
                    : tokenizerJson != null ? HuggingFaceTokenizerLoader.load(tokenizerJson)
                    : GgufTokenizerLoader.fromMetadata(metadata);
            int trained = decoder.config().contextLength();
            int ctx = contextLength == 0 ? trained : Math.min(contextLength, trained);
            ChatTemplateConfig chat = chatTemplate(tokenizer, (bos, eos) -> metadata.get("tokenizer.chat_template")
                    instanceof String ? ChatTemplateConfig.fromGgufMetadata(metadata, bos, eos) : null);
            return new LanguageModel(model.toString(), gguf, b, decoder, tokenizer, chat, ctx);
        } catch (IOException e) {
            closeQuietly(gguf, b);
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            closeQuietly(gguf, b);
            throw e;
        }
    }

    /** A Hugging Face checkpoint directory: config.json, safetensors shards, tokenizer.json. */
    private LanguageModel buildFromCheckpoint() {
        HfCheckpoint ckpt;
        try {
            ckpt = HfCheckpoint.open(model);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint " + model + ": " + e.getMessage(), e);
        }
        Backend b = null;
        try {
            b = Backends.create(backend, threads);
            dev.isthmus.core.model.ModelConfig config = ckpt.config();
            DecoderModel decoder = DecoderModel.load(config, ckpt.source(), b);
            decoder.setAdapters(adapters);
            Tokenizer tokenizer = tokenizerOverride;
            if (tokenizer == null) {
                Path json = tokenizerJson != null ? tokenizerJson : ckpt.tokenizerJson().orElseThrow(() ->
                        new dev.isthmus.core.model.ModelLoadException(model + " has no tokenizer.json; pass one with "
                                + "tokenizer(Path) or tokenizer(Tokenizer)"));
                tokenizer = ckpt.tokenizerConfig().isPresent() && tokenizerJson == null
                        ? HuggingFaceTokenizerLoader.load(json, ckpt.tokenizerConfig().get())
                        : HuggingFaceTokenizerLoader.load(json);
            }
            Optional<Path> tokenizerConfig = ckpt.tokenizerConfig();
            ChatTemplateConfig chat = chatTemplate(tokenizer, (bos, eos) -> {
                if (tokenizerConfig.isPresent() && hasChatTemplate(tokenizerConfig.get())) {
                    return ChatTemplateConfig.fromTokenizerConfig(tokenizerConfig.get());
                }
                return null;
            });
            int ctx = contextLength == 0 ? config.contextLength() : Math.min(contextLength, config.contextLength());
            return new LanguageModel(model.toString(), ckpt, b, decoder, tokenizer, chat, ctx);
        } catch (IOException e) {
            closeQuietly(ckpt, b);
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            closeQuietly(ckpt, b);
            throw e;
        }
    }

    private static boolean hasChatTemplate(Path tokenizerConfig) throws IOException {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(java.nio.file.Files.readString(tokenizerConfig))
                .has("chat_template");
    }

    private static void closeQuietly(HfCheckpoint ckpt, Backend b) {
        if (b != null) {
            b.close();
        }
        ckpt.close();
    }

    /** Where a model file keeps its own chat template: returns null when it has none. */
    @FunctionalInterface
    private interface TemplateSource {
        ChatTemplateConfig find(String bos, String eos) throws IOException;
    }

    /** The builder's template if set, else the model's own, else ChatML (as llama.cpp falls back). */
    private ChatTemplateConfig chatTemplate(Tokenizer tokenizer, TemplateSource modelTemplate) throws IOException {
        String bos = tokenizer.bosTokenId().isPresent() ? tokenizer.idToToken(tokenizer.bosTokenId().getAsInt()) : null;
        String eos = tokenizer.eosTokenId().isPresent() ? tokenizer.idToToken(tokenizer.eosTokenId().getAsInt()) : null;
        if (chatTemplate != null) {
            return ChatTemplateConfig.ofTemplate(chatTemplate, bos, eos);
        }
        ChatTemplateConfig own = modelTemplate.find(bos, eos);
        return own != null ? own : ChatTemplateConfig.ofTemplate(CHATML, bos, eos);
    }

    private static void closeQuietly(GgufFile gguf, Backend b) {
        if (b != null) {
            b.close();
        }
        gguf.close();
    }
}
