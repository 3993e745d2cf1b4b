package dev.isthmus.core.llm;

import dev.isthmus.tokenizers.EncodeOptions;

/**
 * llama.cpp's perplexity method: the text is tokenized once (with BOS), cut into windows of {@code ctx}
 * tokens; each window is evaluated from scratch (its first token replaced by BOS when asked), and the
 * predictions of the second half of the window (positions ctx/2 … ctx-2 predicting the next token) are
 * scored, so every scored token sees at least ctx/2 tokens of context.
 */
final class Perplexity {
    /** Positions whose logits are held at once. */
    private static final int SLICE = 64;
    private Perplexity() {
    }

    static PerplexityResult compute(LanguageModel model, String text, int ctx, int maxChunks, boolean bos) {
        if (ctx < 4) {
            throw new IllegalArgumentException("perplexity windows need at least 4 tokens, got " + ctx);
        }
        if (ctx > model.contextLength()) {
            throw new IllegalArgumentException("window of " + ctx + " tokens exceeds the context length "
                    + model.contextLength());
        }
        int[] tokens = model.tokenizer().encode(text, EncodeOptions.PLAIN_TEXT);
        int bosId = model.tokenizer().bosTokenId().orElse(-1);
        if (bos) {
            if (bosId < 0) {
                throw new IllegalArgumentException("the model has no BOS token; compute perplexity without BOS");
            }
            int[] with = new int[tokens.length + 1];
            with[0] = bosId;
            System.arraycopy(tokens, 0, with, 1, tokens.length);
            tokens = with;
        }
        int chunks = tokens.length / ctx;
        if (maxChunks > 0) {
            chunks = Math.min(chunks, maxChunks);
        }
        if (chunks == 0) {
            throw new IllegalArgumentException("text has " + tokens.length + " tokens, fewer than one window of " + ctx);
        }
        int vocab = model.config().vocabSize();
        int first = ctx / 2;
        double nll = 0;
        int count = 0;
        double[] running = new double[chunks];
        int[] window = new int[ctx];
        // Logits are needed only for the scored half, and only a slice at a time: memory stays at
        // SLICE × vocab floats even for 150k-token vocabularies and long windows.
        int slice = Math.max(1, Math.min(SLICE, ctx - first));
        float[] logits = new float[slice * vocab];
        float[] ignored = new float[vocab];
        for (int c = 0; c < chunks; c++) {
            System.arraycopy(tokens, c * ctx, window, 0, ctx);
            if (bos) {
                window[0] = bosId;
            }
            dev.isthmus.core.model.InferenceState state = model.newState(ctx);
            model.evaluate(state, java.util.Arrays.copyOf(window, first), ignored);
            for (int from = first; from < ctx - 1; from += slice) {
                int n = Math.min(slice, ctx - 1 - from);
                model.evaluateAll(state, window, from, n, logits);
                for (int j = 0; j < n; j++) {
                    nll -= logSoftmax(logits, j * vocab, vocab, window[from + j + 1]);
                    count++;
                }
            }
            running[c] = Math.exp(nll / count);
        }
        return new PerplexityResult(Math.exp(nll / count), nll / count, count, running);
    }

    /** log p(target) from logits[off..off+n), computed in double as llama.cpp does. */
    static double logSoftmax(float[] logits, int off, int n, int target) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return logits[off + target] - max - Math.log(sum);
    }
}
