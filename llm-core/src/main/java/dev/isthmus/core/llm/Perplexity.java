package dev.isthmus.core.llm;

import dev.isthmus.tokenizers.EncodeOptions;

/**
 * llama.cpp's perplexity method: the text is tokenized once (with BOS), cut into windows of {@code ctx}
 * tokens; each window is evaluated from scratch (its first token replaced by BOS when asked), and the
 * predictions of the second half of the window (positions ctx/2 … ctx-2 predicting the next token) are
 * scored, so every scored token sees at least ctx/2 tokens of context.
 */
final class Perplexity {
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
        int first = ctx / 2;
        double nll = 0;
        int count = 0;
        double[] running = new double[chunks];
        int[] window = new int[ctx];
        for (int c = 0; c < chunks; c++) {
            System.arraycopy(tokens, c * ctx, window, 0, ctx);
            if (bos) {
                window[0] = bosId;
            }
            // Predictions from positions first … ctx-2, i.e. targets first+1 … ctx-1.
            for (double logProb : model.targetLogProbs(window, ctx, first + 1)) {
                nll -= logProb;
                count++;
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
