package dev.isthmus.core.llm;

import dev.isthmus.core.model.InferenceState;
import java.util.Arrays;

/**
 * A conversation-length session: its KV cache survives between requests, and a new prompt that starts
 * with the tokens already processed (a chat transcript growing turn by turn) only pays for the new part.
 * Not thread-safe; use one session per conversation.
 *
 * <pre>{@code
 * try (Session s = model.newSession()) {
 *     s.complete("Once upon a time").maxNewTokens(16).text();
 * }
 * }</pre>
 */
public final class Session implements AutoCloseable {
    private final LanguageModel model;
    private InferenceState state;
    private int[] cached = new int[0];
    private Generation running;

    Session(LanguageModel model) {
        this.model = model;
    }

    /** A completion that reuses this session's cache. */
    public CompletionRequest complete(String prompt) {
        CompletionRequest r = model.complete(prompt);
        r.session = this;
        return r;
    }

    /** A completion of token ids that reuses this session's cache. */
    public CompletionRequest complete(int[] promptIds) {
        CompletionRequest r = model.complete(promptIds);
        r.session = this;
        return r;
    }

    Generation start(int[] promptIds, GenerationParams params) {
        if (state == null) {
            state = model.newState(model.contextLength());
        }
        syncCacheWithLastGeneration();
        int common = 0;
        int limit = Math.min(Math.min(cached.length, state.position()), promptIds.length - 1);
        while (common < limit && cached[common] == promptIds[common]) {
            common++;
        }
        state.rewind(common);
        cached = promptIds.clone();
        running = model.startGeneration(state, promptIds, common, params);
        return running;
    }

    /** The tokens in the cache are the last prompt plus what was generated and evaluated from it. */
    private void syncCacheWithLastGeneration() {
        if (running == null) {
            return;
        }
        Completion last = running.result();
        int[] all = Arrays.copyOf(last.promptIds(), last.promptIds().length + last.ids().length);
        System.arraycopy(last.ids(), 0, all, last.promptIds().length, last.ids().length);
        cached = Arrays.copyOf(all, Math.min(all.length, state.position()));
        running = null;
    }

    /** Tokens currently held in the cache. */
    public int position() {
        return state == null ? 0 : state.position();
    }

    @Override
    public void close() {
        if (state != null) {
            state.release();
        }
        state = null;
        running = null;
    }
}
