package dev.isthmus.core.llm;

/**
 * How likely a model finds a text: the log-probability of every token given the ones before it.
 *
 * @param tokens    the scored token ids (the text's tokens, without the BOS they are conditioned on)
 * @param logProbs  natural-log probability of each token
 */
public record TextScore(int[] tokens, double[] logProbs) {

    /** Sum of the log-probabilities (the log-likelihood of the text). */
    public double totalLogProb() {
        double s = 0;
        for (double l : logProbs) {
            s += l;
        }
        return s;
    }

    /** Mean negative log-likelihood per token. */
    public double meanNll() {
        return logProbs.length == 0 ? 0 : -totalLogProb() / logProbs.length;
    }

    /** exp(mean NLL). */
    public double perplexity() {
        return Math.exp(meanNll());
    }
}
