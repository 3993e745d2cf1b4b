package dev.isthmus.core.encoder;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.cpu.CpuOps;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A BERT-family encoder: sentence embeddings and fill-mask. Build with {@link EncoderBuilder} via
 * {@code Llm.encoder()}. Thread-safe; {@link #close()} waits for running calls, then unmaps the file.
 *
 * <pre>{@code
 * try (Encoder bert = Llm.encoder().model(Path.of("all-minilm-l6-v2-f16.gguf")).build()) {
 *     float[] v = bert.embed("What a horrible day!");            // mean-pooled, L2-normalised
 *     List<float[]> batch = bert.embed(List.of("a", "b"));
 * }
 * }</pre>
 */
public final class Encoder implements AutoCloseable {
    private final GgufFile gguf;
    private final Backend backend;
    private final BertModel model;
    private final EncoderConfig config;
    private final Tokenizer tokenizer;
    private final Pooling pooling;
    private final boolean normalize;
    private final boolean truncate;
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    Encoder(GgufFile gguf, Backend backend, BertModel model, EncoderConfig config, Tokenizer tokenizer, Pooling pooling,
            boolean normalize, boolean truncate) {
        this.gguf = gguf;
        this.backend = backend;
        this.model = model;
        this.config = config;
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        this.normalize = normalize;
        this.truncate = truncate;
    }

    public EncoderConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Width of the embeddings. */
    public int dimension() {
        return config.dim();
    }

    /** The embedding of one text. */
    public float[] embed(String text) {
        return embed(List.of(text)).get(0);
    }

    /** Embeddings of several texts, computed as one batch. */
    public List<float[]> embed(List<String> texts) {
        if (texts.isEmpty()) {
            return List.of();
        }
        int[][] sequences = new int[texts.size()][];
        for (int i = 0; i < sequences.length; i++) {
            sequences[i] = tokens(texts.get(i));
        }
        float[] hidden = run(sequences);
        List<float[]> out = new ArrayList<>(texts.size());
        int d = config.dim();
        int start = 0;
        for (int[] s : sequences) {
            float[] v = new float[d];
            switch (pooling) {
                case MEAN -> {
                    for (int t = 0; t < s.length; t++) {
                        CpuOps.add(v, 0, hidden, (start + t) * d, d);
                    }
                    for (int j = 0; j < d; j++) {
                        v[j] /= s.length;
                    }
                }
                case CLS -> System.arraycopy(hidden, start * d, v, 0, d);
                case LAST -> System.arraycopy(hidden, (start + s.length - 1) * d, v, 0, d);
            }
            if (normalize) {
                double norm = 0;
                for (float f : v) {
                    norm += (double) f * f;
                }
                float inv = norm > 0 ? (float) (1 / Math.sqrt(norm)) : 0f;
                for (int j = 0; j < d; j++) {
                    v[j] *= inv;
                }
            }
            out.add(v);
            start += s.length;
        }
        return out;
    }

    /** The last hidden state of every token of {@code text} ([CLS] and [SEP] included), unpooled. */
    public float[][] tokenStates(String text) {
        int[] ids = tokens(text);
        float[] hidden = run(new int[][] {ids});
        int d = config.dim();
        float[][] out = new float[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            out[t] = java.util.Arrays.copyOfRange(hidden, t * d, (t + 1) * d);
        }
        return out;
    }

    /** The token ids the encoder sees for {@code text} ([CLS] … [SEP]), truncated if so configured. */
    public int[] tokens(String text) {
        // Special tokens written in the text ([SEP], [MASK]) are recognised, as Hugging Face tokenizers do.
        int[] ids = tokenizer.encode(text, EncodeOptions.DEFAULT);
        if (ids.length > config.maxTokens()) {
            if (!truncate) {
                throw new IllegalArgumentException("text of " + ids.length + " tokens exceeds the encoder's "
                        + config.maxTokens() + " positions; shorten it or build with truncate(true)");
            }
            int[] cut = java.util.Arrays.copyOf(ids, config.maxTokens());
            cut[cut.length - 1] = ids[ids.length - 1];
            ids = cut;
        }
        return ids;
    }

    /** Whether the model file carries a masked-language-model head (needed by {@link #fillMask}). */
    public boolean hasMlmHead() {
        return model.weights().mlm() != null;
    }

    /**
     * The {@code topK} most likely tokens for the (single) mask token in {@code text}.
     *
     * @throws IllegalStateException    if the model has no MLM head
     * @throws IllegalArgumentException if the text does not contain exactly one mask token
     */
    public List<Fill> fillMask(String text, int topK) {
        EncoderWeights.MlmHead head = model.weights().mlm();
        if (head == null) {
            throw new IllegalStateException("this encoder has no masked-language-model head (mlm.* tensors); "
                    + "fill-mask needs a BERT GGUF that keeps it");
        }
        int mask = tokenizer.maskTokenId().orElseThrow(() -> new IllegalStateException("the tokenizer has no mask token"));
        int[] ids = tokenizer.encode(text, EncodeOptions.DEFAULT);
        int at = -1;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == mask) {
                if (at >= 0) {
                    throw new IllegalArgumentException("text has more than one " + tokenizer.idToToken(mask));
                }
                at = i;
            }
        }
        if (at < 0) {
            throw new IllegalArgumentException("text has no " + tokenizer.idToToken(mask) + " token");
        }
        float[] hidden = run(new int[][] {ids});
        int d = config.dim();
        float[] h = java.util.Arrays.copyOfRange(hidden, at * d, (at + 1) * d);
        float[] t = new float[d];
        lifecycle.readLock().lock();
        try {
            checkOpen();
            model.linear(head.dense(), head.denseB(), h, t, 1, d);
            BertModel.geluErf(t);
            CpuOps.layerNorm(t, 0, t, 0, head.normW(), head.normB(), d, config.normEps());
            int vocab = (int) model.weights().tokenEmbedding().dim(0);
            float[] logits = new float[vocab];
            model.linear(model.weights().tokenEmbedding(), head.decoderBias(), t, logits, 1, vocab);
            CpuOps.softmax(logits, 0, vocab);
            List<Fill> fills = new ArrayList<>();
            boolean[] taken = new boolean[vocab];
            for (int k = 0; k < Math.min(topK, vocab); k++) {
                int best = -1;
                for (int i = 0; i < vocab; i++) {
                    if (!taken[i] && (best < 0 || logits[i] > logits[best])) {
                        best = i;
                    }
                }
                taken[best] = true;
                int[] filled = ids.clone();
                filled[at] = best;
                fills.add(new Fill(best, tokenizer.decode(new int[] {best}, true), logits[best],
                        tokenizer.decode(filled, true)));
            }
            return fills;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private float[] run(int[][] sequences) {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            return model.hiddenStates(sequences);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("encoder is closed");
        }
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                backend.close();
                gguf.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
