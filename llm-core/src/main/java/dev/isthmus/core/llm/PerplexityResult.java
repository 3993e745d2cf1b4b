package dev.isthmus.core.llm;

/**
 * Perplexity over a text.
 *
 * @param perplexity        exp(mean negative log-likelihood)
 * @param meanNll           mean negative log-likelihood per scored token (nats)
 * @param tokensScored      how many predictions were scored
 * @param runningPerplexity the perplexity after each window, as llama-perplexity prints it
 */
public record PerplexityResult(double perplexity, double meanNll, int tokensScored, double[] runningPerplexity) {
}
