package dev.isthmus.core.llm;

import dev.isthmus.core.model.InferenceState;
import dev.isthmus.core.sampling.TokenSampler;
import dev.isthmus.tokenizers.StreamingDecoder;
import dev.isthmus.tokenizers.Tokenizer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A generation in progress, pulled one token at a time: sample from the current logits, check the stop
 * conditions, emit the token's text (held back while it might start a stop string), then run the token
 * through the model for the next logits.
 */
final class Generation implements Iterator<GeneratedToken> {
    private final LanguageModel model;
    private final InferenceState state;
    private final GenerationParams params;
    private final TokenSampler sampler;
    private final StreamingDecoder decoder;
    private final StopMatcher stops;
    private final float[] logits;
    private final int[] promptIds;
    private int[] history;
    private int historyLength;
    private int generated;
    private final StringBuilder text = new StringBuilder();
    private FinishReason finish;
    private GeneratedToken lookahead;
    private final double prefillMillis;
    private long decodeNanos;

    /** Starts generating; the first {@code reused} prompt tokens are already in {@code state}. */
    Generation(LanguageModel model, InferenceState state, int[] promptIds, int reused, GenerationParams params) {
        this.model = model;
        this.state = state;
        this.params = params;
        this.promptIds = promptIds;
        Tokenizer tokenizer = model.tokenizer();
        this.sampler = params.sampler().newSampler();
        this.decoder = tokenizer.newStreamingDecoder(true);
        this.stops = new StopMatcher(params.stopStrings());
        this.logits = new float[model.config().vocabSize()];
        this.history = Arrays.copyOf(promptIds, promptIds.length + Math.min(params.maxNewTokens(), 4096) + 1);
        this.historyLength = promptIds.length;
        long start = System.nanoTime();
        model.evaluate(state, Arrays.copyOfRange(promptIds, reused, promptIds.length), logits);
        this.prefillMillis = (System.nanoTime() - start) / 1e6;
        if (params.maxNewTokens() == 0) {
            finish = FinishReason.LENGTH;
        }
    }

    @Override
    public boolean hasNext() {
        if (lookahead == null && finish == null) {
            lookahead = step();
        }
        return lookahead != null;
    }

    @Override
    public GeneratedToken next() {
        if (!hasNext()) {
            throw new NoSuchElementException("generation finished: " + finish);
        }
        GeneratedToken t = lookahead;
        lookahead = null;
        return t;
    }

    /** Produces the next token, or null once a stop condition holds (then {@link #finishReason()} is set). */
    private GeneratedToken step() {
        long start = System.nanoTime();
        try {
            if (params.cancelled().getAsBoolean()) {
                return end(FinishReason.CANCELLED);
            }
            int id = sampler.sample(logits, history, historyLength);
            if ((!params.ignoreEos() && model.tokenizer().isEndOfGeneration(id)) || isStopToken(id)) {
                return end(FinishReason.STOP);
            }
            if (historyLength == history.length) {
                history = Arrays.copyOf(history, history.length * 2);
            }
            history[historyLength++] = id;
            int index = generated++;
            String emitted = stops.push(decoder.push(id));
            if (stops.stopped()) {
                text.append(emitted);
                finish = FinishReason.STOP_STRING;
                return new GeneratedToken(id, emitted, index);
            }
            if (generated >= params.maxNewTokens()) {
                emitted += stops.push(decoder.finish()) + stops.flush();
                finish = stops.stopped() ? FinishReason.STOP_STRING : FinishReason.LENGTH;
            } else if (state.position() >= state.capacity()) {
                emitted += stops.push(decoder.finish()) + stops.flush();
                finish = FinishReason.CONTEXT_FULL;
            } else {
                model.evaluate(state, new int[] {id}, logits);
            }
            text.append(emitted);
            return new GeneratedToken(id, emitted, index);
        } finally {
            decodeNanos += System.nanoTime() - start;
        }
    }

    private GeneratedToken end(FinishReason reason) {
        String rest = stops.push(decoder.finish()) + stops.flush();
        text.append(rest);
        finish = reason;
        if (!rest.isEmpty() && generated > 0) {
            // Text held back for a possible stop string is released with a final, id-less token.
            return new GeneratedToken(-1, rest, generated);
        }
        return null;
    }

    private boolean isStopToken(int id) {
        for (int s : params.stopTokens()) {
            if (s == id) {
                return true;
            }
        }
        return false;
    }

    FinishReason finishReason() {
        return finish;
    }

    /** Drains the generation and returns the result. */
    Completion toCompletion() {
        while (hasNext()) {
            next();
        }
        return result();
    }

    Completion result() {
        int[] ids = Arrays.copyOfRange(history, promptIds.length, historyLength);
        return new Completion(promptIds.clone(), ids, withoutLeadingMarker(ids, text.toString()), finish,
                prefillMillis, decodeNanos / 1e6);
    }

    /**
     * The result text reads as {@code decode(ids)} does in llama.cpp and transformers: SentencePiece drops
     * the dummy-prefix space of the first token. Streamed pieces keep it, so prompt + pieces reads right.
     */
    private String withoutLeadingMarker(int[] ids, String streamed) {
        if (ids.length == 0) {
            return streamed;
        }
        Tokenizer tokenizer = model.tokenizer();
        String alone = tokenizer.decode(new int[] {ids[0]}, true);
        String piece = tokenizer.newStreamingDecoder(true).push(ids[0]);
        if (piece.length() > alone.length() && piece.endsWith(alone)) {
            String marker = piece.substring(0, piece.length() - alone.length());
            if (streamed.startsWith(marker)) {
                return streamed.substring(marker.length());
            }
        }
        return streamed;
    }
}
