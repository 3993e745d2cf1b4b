package dev.isthmus.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TokenSamplerTest {

    /** Logits whose softmax is {0.5, 0.25, 0.125, 0.0625, 0.0625}. */
    private static float[] halving() {
        double[] p = {0.5, 0.25, 0.125, 0.0625, 0.0625};
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            l[i] = (float) Math.log(p[i]);
        }
        return l;
    }

    private static int[] histogram(SamplerSpec spec, float[] logits, int draws) {
        TokenSampler s = spec.newSampler();
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            counts[s.sample(logits.clone(), new int[0], 0)]++;
        }
        return counts;
    }

    /** Pearson's chi-square statistic against expected probabilities. */
    private static double chiSquare(int[] counts, double[] expected, int draws) {
        double chi = 0;
        for (int i = 0; i < counts.length; i++) {
            if (expected[i] > 0) {
                double e = expected[i] * draws;
                chi += (counts[i] - e) * (counts[i] - e) / e;
            } else {
                assertThat(counts[i]).as("token %d has probability 0", i).isZero();
            }
        }
        return chi;
    }

    @Test
    void temperatureOneDrawsFromTheSoftmax() {
        int[] counts = histogram(Samplers.temperature(1f).seed(1), halving(), 40_000);
        // 4 degrees of freedom: the 99.9% quantile is 18.47.
        assertThat(chiSquare(counts, new double[] {0.5, 0.25, 0.125, 0.0625, 0.0625}, 40_000)).isLessThan(18.47);
    }

    @Test
    void temperatureTwoFlattensTheDistribution() {
        // p_i ∝ p_i^(1/2)
        double[] sqrt = {Math.sqrt(0.5), Math.sqrt(0.25), Math.sqrt(0.125), Math.sqrt(0.0625), Math.sqrt(0.0625)};
        double z = Arrays.stream(sqrt).sum();
        double[] expected = Arrays.stream(sqrt).map(v -> v / z).toArray();
        int[] counts = histogram(Samplers.temperature(2f).seed(2), halving(), 40_000);
        assertThat(chiSquare(counts, expected, 40_000)).isLessThan(18.47);
    }

    @Test
    void topKKeepsTheKMostLikelyRenormalised() {
        int[] counts = histogram(Samplers.topK(2).seed(3), halving(), 30_000);
        assertThat(chiSquare(counts, new double[] {2.0 / 3, 1.0 / 3, 0, 0, 0}, 30_000)).isLessThan(10.83);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // 0.5 + 0.25 = 0.75 ≥ 0.7: two tokens survive.
        int[] counts = histogram(Samplers.topP(0.7f).seed(4), halving(), 30_000);
        assertThat(chiSquare(counts, new double[] {2.0 / 3, 1.0 / 3, 0, 0, 0}, 30_000)).isLessThan(10.83);
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheTop() {
        // threshold 0.3 × 0.5 = 0.15: tokens with 0.5 and 0.25 survive.
        int[] counts = histogram(Samplers.minP(0.3f).seed(5), halving(), 30_000);
        assertThat(chiSquare(counts, new double[] {2.0 / 3, 1.0 / 3, 0, 0, 0}, 30_000)).isLessThan(10.83);
    }

    @Test
    void greedyPicksTheArgmax() {
        float[] logits = {0.1f, 3f, -2f, 2.9f};
        assertThat(Samplers.greedy().newSampler().sample(logits, new int[0], 0)).isEqualTo(1);
    }

    @Test
    void logitBiasCanBanAToken() {
        float[] logits = {0.1f, 3f, -2f, 2.9f};
        int id = Samplers.greedy().logitBias(1, Float.NEGATIVE_INFINITY).newSampler().sample(logits, new int[0], 0);
        assertThat(id).isEqualTo(3);
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        float[] logits = {2f, -1f, 1f};
        SamplerSpec spec = Samplers.greedy().repetitionPenalty(2f);
        spec.newSampler().applyPenalties(logits, new int[] {0, 1, 0}, 3);
        assertThat(logits).containsExactly(1f, -2f, 1f);
    }

    @Test
    void frequencyAndPresencePenaltiesFollowCounts() {
        float[] logits = {2f, 2f, 2f};
        Samplers.greedy().frequencyPenalty(0.5f).presencePenalty(0.25f).newSampler()
                .applyPenalties(logits, new int[] {0, 0, 1}, 3);
        assertThat(logits).containsExactly(2f - 1f - 0.25f, 2f - 0.5f - 0.25f, 2f);
    }

    @Test
    void penaltyWindowLimitsTheHistoryConsidered() {
        float[] logits = {2f, 2f};
        Samplers.greedy().repetitionPenalty(2f).penaltyWindow(1).newSampler().applyPenalties(logits, new int[] {0, 1}, 2);
        assertThat(logits).containsExactly(2f, 1f);
    }

    @Test
    void sameSeedSameSequence() {
        float[] logits = halving();
        TokenSampler a = Samplers.temperature(1f).seed(9).newSampler();
        TokenSampler b = Samplers.temperature(1f).seed(9).newSampler();
        for (int i = 0; i < 100; i++) {
            assertThat(a.sample(logits.clone(), new int[0], 0)).isEqualTo(b.sample(logits.clone(), new int[0], 0));
        }
    }

    @Test
    void fullSortOrdersCandidatesByDescendingLogit() {
        float[] logits = {0.5f, -3f, Float.NEGATIVE_INFINITY, 2f, -0f, 0f, 1e-30f, -1e-30f, 7f};
        TokenSampler s = Samplers.topP(1f).newSampler();
        int n = s.candidates(logits.clone());
        assertThat(n).isEqualTo(logits.length);
        for (int i = 1; i < n; i++) {
            assertThat(logits[s.lastOrder()[i - 1]]).as("rank %d", i).isGreaterThanOrEqualTo(logits[s.lastOrder()[i]]);
        }
        assertThat(s.lastOrder()[0]).isEqualTo(8);
        assertThat(s.lastOrder()[n - 1]).isEqualTo(2);
    }

    @Test
    void topKSelectionMatchesAFullSortOnALargeVocabulary() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(6);
        float[] logits = new float[50_000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) r.nextGaussian();
        }
        TokenSampler s = Samplers.topK(40).newSampler();
        int n = s.candidates(logits.clone());
        Integer[] all = new Integer[logits.length];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        Arrays.sort(all, (x, y) -> Float.compare(logits[y], logits[x]));
        assertThat(n).isEqualTo(40);
        for (int i = 0; i < 40; i++) {
            assertThat(s.lastOrder()[i]).as("rank %d", i).isEqualTo(all[i]);
        }
    }
}
