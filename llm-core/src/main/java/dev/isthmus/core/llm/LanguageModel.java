package dev.isthmus.core.llm;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.model.DecoderModel;
import dev.isthmus.core.model.InferenceState;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.tokenizers.EncodeOptions;
import dev.isthmus.tokenizers.Tokenizer;
import dev.isthmus.tokenizers.template.ChatTemplateConfig;
import java.util.Arrays;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded decoder model: weights mapped from a GGUF file, its tokenizer and chat template, and a
 * backend. Build one with {@link Llm#builder()}.
 *
 * <p>Thread-safe: each request runs in its own session state (KV cache), so several threads may generate
 * at once. {@link #close()} waits for in-flight steps, then unmaps the file; generations still running
 * fail at their next step with {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (LanguageModel model = Llm.builder().model(Path.of("model.gguf")).threads(4).build()) {
 *     String text = model.complete("Once upon a time").maxNewTokens(32).text();
 *     ChatResponse reply = model.chat().user("Name three planets.").call();
 * }
 * }</pre>
 */
public final class LanguageModel implements AutoCloseable {
    private final String source;
    private final AutoCloseable weights;
    private final Backend backend;
    private final DecoderModel decoder;
    private final Tokenizer tokenizer;
    private final ChatTemplateConfig chatTemplate;
    private final int contextLength;
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    LanguageModel(String source, AutoCloseable weights, Backend backend, DecoderModel decoder, Tokenizer tokenizer,
                  ChatTemplateConfig chatTemplate, int contextLength) {
        this.source = source;
        this.weights = weights;
        this.backend = backend;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.contextLength = contextLength;
    }

    /** The model's tokenizer. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Hyper-parameters. */
    public ModelConfig config() {
        return decoder.config();
    }

    /** Positions a session can hold (the builder's context length, capped at the model's). */
    public int contextLength() {
        return contextLength;
    }

    /** The chat template used by {@link #chat()}. */
    public ChatTemplateConfig chatTemplate() {
        return chatTemplate;
    }

    /** The backend's name, e.g. {@code cpu}. */
    public String backendName() {
        return backend.name();
    }

    /**
     * Replaces the LoRA adapters applied at run time (hot swap; an empty list runs the base model). Requests
     * already running see the change from their next token.
     */
    public void setAdapters(java.util.List<dev.isthmus.core.adapter.LoraAdapter> list) {
        checkOpen();
        decoder.setAdapters(list);
    }

    /** A completion request for {@code prompt} (BOS added when the model's tokenizer asks for it). */
    public CompletionRequest complete(String prompt) {
        return new CompletionRequest(this, prompt, null);
    }

    /** A completion request for a prompt given as token ids (used as they are). */
    public CompletionRequest complete(int[] promptIds) {
        return new CompletionRequest(this, null, promptIds.clone());
    }

    /** A chat request rendered with the model's own chat template. */
    public ChatRequest chat() {
        return new ChatRequest(this);
    }

    /** A session that keeps its KV cache between requests and reuses the common prompt prefix. */
    public Session newSession() {
        checkOpen();
        return new Session(this);
    }

    /**
     * Perplexity of {@code text} computed as llama.cpp's {@code llama-perplexity}: windows of {@code ctx}
     * tokens (BOS at each window start when {@code bos}), the second half of each window scored.
     *
     * @param maxChunks windows to score at most (≤ 0: all)
     */
    public PerplexityResult perplexity(String text, int ctx, int maxChunks, boolean bos) {
        return Perplexity.compute(this, text, ctx, maxChunks, bos);
    }

    /**
     * Scores {@code text} as one sequence: each token's log-probability given BOS (when the model uses one) and
     * the tokens before it. The text must fit the context.
     *
     * <pre>{@code
     * double logLikelihood = model.score("The capital of France is Paris.").totalLogProb();
     * }</pre>
     */
    public TextScore score(String text) {
        int[] ids = encodePrompt(text, null);
        int start = defaultAddBos() ? 1 : 0;
        if (ids.length - start < 1 || (start == 0 && ids.length < 2)) {
            throw new IllegalArgumentException("nothing to score: the text has " + (ids.length - start) + " tokens"
                    + (start == 0 ? " and no BOS to condition the first one on" : ""));
        }
        if (ids.length > contextLength) {
            throw new dev.isthmus.core.model.ContextOverflowException(0, ids.length, contextLength);
        }
        int first = Math.max(1, start);
        return new TextScore(java.util.Arrays.copyOfRange(ids, first, ids.length), targetLogProbs(ids, ids.length, first));
    }

    /** Positions whose logits are held at once when scoring (bounded memory for large vocabularies). */
    private static final int SCORE_SLICE = 64;

    /**
     * The log-probability of each of {@code ids[firstTarget..length)} given the tokens before it, in a fresh state:
     * the prefix that predicts nothing is run without logits, the rest {@value #SCORE_SLICE} positions at a time.
     */
    double[] targetLogProbs(int[] ids, int length, int firstTarget) {
        if (firstTarget < 1 || firstTarget > length) {
            throw new IllegalArgumentException("targets must start in 1.." + length + ", got " + firstTarget);
        }
        int vocab = config().vocabSize();
        InferenceState state = newState(length);
        try {
            if (firstTarget > 1) {
                evaluate(state, java.util.Arrays.copyOf(ids, firstTarget - 1), new float[vocab]);
            }
            double[] out = new double[length - firstTarget];
            float[] logits = new float[Math.min(SCORE_SLICE, Math.max(1, out.length)) * vocab];
            for (int from = firstTarget - 1; from < length - 1; from += SCORE_SLICE) {
                int n = Math.min(SCORE_SLICE, length - 1 - from);
                evaluateAll(state, ids, from, n, logits);
                for (int j = 0; j < n; j++) {
                    int target = from + j + 1;
                    out[target - firstTarget] = Perplexity.logSoftmax(logits, j * vocab, vocab, ids[target]);
                }
            }
            return out;
        } finally {
            state.release();
        }
    }

    /** {@link #perplexity(String, int, int, boolean)} with windows of 512 (or the context length), BOS, all chunks. */
    public PerplexityResult perplexity(String text) {
        return perplexity(text, Math.min(512, contextLength), 0, true);
    }

    /**
     * Next-token logits at every position of {@code ids} ({@code ids.length × vocab}, row-major), run in
     * a fresh state.
     */
    public float[] logits(int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("no tokens to score");
        }
        float[] out = new float[Math.multiplyExact(ids.length, config().vocabSize())];
        InferenceState state = newState(ids.length);
        try {
            evaluateAll(state, ids, 0, ids.length, out);
        } finally {
            state.release();
        }
        return out;
    }

    /** The logits after the last of {@code ids}, run in a fresh state (prompt processing as one batch). */
    public float[] nextTokenLogits(int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("no tokens to score");
        }
        InferenceState state = newState(ids.length);
        float[] out = new float[config().vocabSize()];
        try {
            evaluate(state, ids, out);
        } finally {
            state.release();
        }
        return out;
    }

    int[] encodePrompt(String prompt, Boolean addBos) {
        int[] ids = tokenizer.encode(prompt, EncodeOptions.DEFAULT.withAddSpecialTokens(false));
        boolean bos = addBos != null ? addBos : defaultAddBos();
        int bosId = tokenizer.bosTokenId().orElse(-1);
        if (bos && bosId >= 0 && (ids.length == 0 || ids[0] != bosId)) {
            int[] with = new int[ids.length + 1];
            with[0] = bosId;
            System.arraycopy(ids, 0, with, 1, ids.length);
            ids = with;
        }
        return ids;
    }

    /** Whether the tokenizer adds BOS to plain encodes (the GGUF {@code add_bos_token} setting). */
    boolean defaultAddBos() {
        int bosId = tokenizer.bosTokenId().orElse(-1);
        if (bosId < 0) {
            return false;
        }
        int[] probe = tokenizer.encode("a", EncodeOptions.DEFAULT);
        return probe.length > 0 && probe[0] == bosId;
    }

    InferenceState newState(int positions) {
        checkOpen();
        return decoder.newState(Math.min(positions, contextLength));
    }

    /** Runs tokens through the model under the read lock, so close() cannot unmap mid-step. */
    void evaluate(InferenceState state, int[] ids, float[] logits) {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            decoder.forward(state, ids, 0, ids.length, logits, false);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Runs {@code count} ids from {@code offset} and writes every position's logits (count × vocab). */
    void evaluateAll(InferenceState state, int[] ids, int offset, int count, float[] logits) {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            decoder.forward(state, ids, offset, count, logits, true);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    Generation startGeneration(InferenceState state, int[] promptIds, int reused, GenerationParams params) {
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("empty prompt: give some text, or add BOS");
        }
        for (int id : promptIds) {
            if (id < 0 || id >= config().vocabSize()) {
                throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary of "
                        + config().vocabSize());
            }
        }
        if (promptIds.length >= state.capacity()) {
            throw new dev.isthmus.core.model.ContextOverflowException(0, promptIds.length, state.capacity());
        }
        return new Generation(this, state, promptIds, reused, params);
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model " + source + " is closed");
        }
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Waits for in-flight steps, then releases the mapping and the backend's threads. Idempotent. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            backend.close();
            try {
                weights.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + source + ": " + e.getMessage(), e);
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "LanguageModel[" + source + ", " + config().family() + ", " + backend + "]";
    }

    static String describe(int[] ids) {
        return ids.length <= 16 ? Arrays.toString(ids) : ids.length + " tokens";
    }
}
