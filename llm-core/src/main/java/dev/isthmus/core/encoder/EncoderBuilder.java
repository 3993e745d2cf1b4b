package dev.isthmus.core.encoder;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.tokenizers.GgufTokenizerLoader;
import dev.isthmus.tokenizers.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Configures and loads an {@link Encoder}.
 *
 * <pre>{@code
 * Encoder e = Llm.encoder().model(path).pooling(Pooling.MEAN).normalize(true).threads(2).build();
 * }</pre>
 */
public final class EncoderBuilder {
    private Path model;
    private String backend;
    private int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    private Pooling pooling;
    private boolean normalize = true;
    private boolean truncate;

    public EncoderBuilder() {
    }

    public EncoderBuilder model(Path path) {
        this.model = Objects.requireNonNull(path, "path");
        return this;
    }

    public EncoderBuilder backend(String name) {
        this.backend = name;
        return this;
    }

    public EncoderBuilder threads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be ≥ 1, got " + n);
        }
        this.threads = n;
        return this;
    }

    /** Pooling (default: as the GGUF's {@code pooling_type} says, else mean). */
    public EncoderBuilder pooling(Pooling p) {
        this.pooling = p;
        return this;
    }

    /** L2-normalise embeddings (default true, as sentence-transformers models expect). */
    public EncoderBuilder normalize(boolean n) {
        this.normalize = n;
        return this;
    }

    /** Cut texts longer than the model's positions instead of refusing them (default false). */
    public EncoderBuilder truncate(boolean t) {
        this.truncate = t;
        return this;
    }

    public Encoder build() {
        if (model == null) {
            throw new IllegalStateException("no model: call model(Path) before build()");
        }
        GgufFile gguf;
        try {
            gguf = GgufFile.open(model);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model " + model + ": " + e.getMessage(), e);
        }
        Backend b = null;
        try {
            EncoderConfig config = EncoderConfig.from(gguf.modelMetadata());
            EncoderWeights weights = EncoderWeights.load(gguf, config);
            Tokenizer tokenizer = GgufTokenizerLoader.fromMetadata(gguf.metadata());
            b = Backends.create(backend, threads);
            return new Encoder(gguf, b, new BertModel(config, weights, b), config, tokenizer,
                    pooling != null ? pooling : config.pooling(), normalize, truncate);
        } catch (RuntimeException | Error e) {
            if (b != null) {
                b.close();
            }
            gguf.close();
            throw e;
        }
    }
}
