package dev.isthmus.core.llm;

import dev.isthmus.core.model.InferenceState;
import dev.isthmus.core.sampling.SamplerSpec;
import dev.isthmus.core.sampling.Samplers;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A text completion to run: configure, then call {@link #text()}, {@link #call()}, {@link #stream} or
 * {@link #tokens()}. Greedy sampling and 256 new tokens unless set.
 *
 * <pre>{@code
 * Completion c = model.complete("The capital of France is")
 *         .sampler(Samplers.topP(0.95f).temperature(0.7f).seed(42))
 *         .maxNewTokens(32).stop("\n")
 *         .stream(token -> System.out.print(token.text()));
 * }</pre>
 */
public class CompletionRequest {
    final LanguageModel model;
    private final String prompt;
    private final int[] promptIds;
    SamplerSpec sampler = Samplers.greedy();
    int maxNewTokens = 256;
    final List<String> stops = new ArrayList<>();
    int[] stopTokens = new int[0];
    boolean ignoreEos;
    Boolean addBos;
    BooleanSupplier cancelled = () -> false;
    Session session;
    int beams = 1;
    float lengthPenalty = 1f;

    CompletionRequest(LanguageModel model, String prompt, int[] promptIds) {
        this.model = model;
        this.prompt = prompt;
        this.promptIds = promptIds;
    }

    public CompletionRequest sampler(SamplerSpec spec) {
        this.sampler = Objects.requireNonNull(spec, "sampler");
        return this;
    }

    /** Generate at most {@code n} tokens (≥ 0). */
    public CompletionRequest maxNewTokens(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("maxNewTokens must be ≥ 0, got " + n);
        }
        this.maxNewTokens = n;
        return this;
    }

    /** Stop when any of these strings appears; it is not included in the text. */
    public CompletionRequest stop(String... strings) {
        for (String s : strings) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must be non-empty");
            }
            stops.add(s);
        }
        return this;
    }

    /** Stop at these token ids (besides the model's end-of-generation tokens). */
    public CompletionRequest stopTokens(int... ids) {
        this.stopTokens = ids.clone();
        return this;
    }

    /** Keep generating past end-of-generation tokens. */
    public CompletionRequest ignoreEos(boolean ignore) {
        this.ignoreEos = ignore;
        return this;
    }

    /** Force BOS on or off (default: as the model's tokenizer configuration says). Ignored for id prompts. */
    public CompletionRequest addBos(boolean add) {
        this.addBos = add;
        return this;
    }

    /** Checked before every token; when it returns true generation ends with {@link FinishReason#CANCELLED}. */
    public CompletionRequest cancelWhen(BooleanSupplier condition) {
        this.cancelled = Objects.requireNonNull(condition, "condition");
        return this;
    }

    /**
     * Beam search with {@code width} beams instead of sampling; sequences are ranked by
     * log-probability / length^{@code lengthPenalty} (transformers' convention, 1.0 by default). Stop strings
     * do not apply; {@link #stream} delivers the winning sequence once it is known.
     */
    public CompletionRequest beamSearch(int width, float lengthPenalty) {
        if (width < 1) {
            throw new IllegalArgumentException("beam width must be ≥ 1, got " + width);
        }
        if (!Float.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("length penalty must be finite");
        }
        this.beams = width;
        this.lengthPenalty = lengthPenalty;
        return this;
    }

    int[] promptIds() {
        return promptIds != null ? promptIds : model.encodePrompt(prompt, addBos);
    }

    private Generation start() {
        GenerationParams params = new GenerationParams(sampler, maxNewTokens, List.copyOf(stops), stopTokens,
                ignoreEos, cancelled);
        int[] ids = promptIds();
        if (session != null) {
            return session.start(ids, params);
        }
        InferenceState state = model.newState(model.contextLength());
        return model.startGeneration(state, ids, 0, params);
    }

    /** Runs to completion. */
    public Completion call() {
        if (beams > 1) {
            return BeamSearch.run(model, promptIds(), beams, lengthPenalty, maxNewTokens, ignoreEos);
        }
        return start().toCompletion();
    }

    /** Runs to completion and returns only the text. */
    public String text() {
        return call().text();
    }

    /** Runs to completion, handing each token to {@code onToken} as it is produced. */
    public Completion stream(Consumer<GeneratedToken> onToken) {
        if (beams > 1) {
            Completion c = call();
            for (int i = 0; i < c.ids().length; i++) {
                onToken.accept(new GeneratedToken(c.ids()[i], i == 0 ? c.text() : "", i));
            }
            return c;
        }
        Generation g = start();
        while (g.hasNext()) {
            onToken.accept(g.next());
        }
        return g.result();
    }

    /** A lazy stream of tokens: generation advances as the stream is consumed and stops if it is abandoned. */
    public Stream<GeneratedToken> tokens() {
        Iterator<GeneratedToken> it = start();
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL),
                false);
    }
}
