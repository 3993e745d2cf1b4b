package dev.isthmus.core.llm;

import dev.isthmus.core.model.InferenceState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Beam search as transformers does it: keep the {@code width} best partial sequences by summed
 * log-probability; a sequence that ends (end-of-generation token) becomes a hypothesis scored
 * {@code logprob / length^lengthPenalty}; stop when no live beam can beat the worst kept hypothesis or
 * the token budget is spent. Each beam owns a copy of the KV cache, so memory grows with the width.
 */
final class BeamSearch {
    private record Beam(int[] ids, double logprob, InferenceState state, float[] logits) {
    }

    private record Hypothesis(int[] ids, double score, boolean ended) {
    }

    private BeamSearch() {
    }

    static Completion run(LanguageModel model, int[] prompt, int width, float lengthPenalty, int maxNewTokens,
                          boolean ignoreEos) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt: give some text, or add BOS");
        }
        long start = System.nanoTime();
        int vocab = model.config().vocabSize();
        InferenceState first = model.newState(model.contextLength());
        if (prompt.length >= first.capacity()) {
            throw new dev.isthmus.core.model.ContextOverflowException(0, prompt.length, first.capacity());
        }
        float[] logits = new float[vocab];
        model.evaluate(first, prompt, logits);
        double prefillMs = (System.nanoTime() - start) / 1e6;
        long decodeStart = System.nanoTime();
        List<Beam> beams = List.of(new Beam(new int[0], 0, first, logits));
        List<Hypothesis> done = new ArrayList<>();
        for (int step = 0; step < maxNewTokens && !beams.isEmpty(); step++) {
            // Candidates: the 2·width best (beam, token) extensions over all beams.
            int keep = 2 * width;
            long[] candBeam = new long[keep];
            int[] candToken = new int[keep];
            double[] candScore = new double[keep];
            Arrays.fill(candScore, Double.NEGATIVE_INFINITY);
            for (int b = 0; b < beams.size(); b++) {
                Beam beam = beams.get(b);
                double logZ = logSumExp(beam.logits());
                for (int t = 0; t < vocab; t++) {
                    double score = beam.logprob() + beam.logits()[t] - logZ;
                    if (score > candScore[keep - 1]) {
                        int i = keep - 1;
                        while (i > 0 && candScore[i - 1] < score) {
                            candScore[i] = candScore[i - 1];
                            candBeam[i] = candBeam[i - 1];
                            candToken[i] = candToken[i - 1];
                            i--;
                        }
                        candScore[i] = score;
                        candBeam[i] = b;
                        candToken[i] = t;
                    }
                }
            }
            List<Beam> next = new ArrayList<>();
            boolean[] parentUsed = new boolean[beams.size()];
            for (int c = 0; c < keep && next.size() < width; c++) {
                if (candScore[c] == Double.NEGATIVE_INFINITY) {
                    break;
                }
                Beam parent = beams.get((int) candBeam[c]);
                int token = candToken[c];
                int[] ids = Arrays.copyOf(parent.ids(), parent.ids().length + 1);
                ids[ids.length - 1] = token;
                if (!ignoreEos && model.tokenizer().isEndOfGeneration(token)) {
                    // Only candidates within the best `width` may finish, as in transformers.
                    if (c < width) {
                        done.add(new Hypothesis(parent.ids(), candScore[c] / Math.pow(Math.max(1, ids.length),
                                lengthPenalty), true));
                    }
                    continue;
                }
                InferenceState state = parentUsed[(int) candBeam[c]] ? parent.state().copy() : parent.state();
                parentUsed[(int) candBeam[c]] = true;
                if (state.position() >= state.capacity()) {
                    done.add(new Hypothesis(ids, candScore[c] / Math.pow(ids.length, lengthPenalty), false));
                    continue;
                }
                float[] nextLogits = new float[vocab];
                next.add(new Beam(ids, candScore[c], state, nextLogits));
            }
            // The state objects of beams sharing a parent were copied above before any forward pass.
            for (Beam beam : next) {
                if (beam.ids().length < maxNewTokens) {
                    model.evaluate(beam.state(), new int[] {beam.ids()[beam.ids().length - 1]}, beam.logits());
                }
            }
            beams = next;
            if (done.size() >= width && !beams.isEmpty()) {
                double worstDone = done.stream().mapToDouble(Hypothesis::score).sorted().skip(done.size() - width)
                        .findFirst().orElse(Double.NEGATIVE_INFINITY);
                double bestLive = beams.get(0).logprob() / Math.pow(beams.get(0).ids().length, lengthPenalty);
                if (bestLive <= worstDone) {
                    break;
                }
            }
        }
        for (Beam beam : beams) {
            done.add(new Hypothesis(beam.ids(), beam.logprob() / Math.pow(Math.max(1, beam.ids().length),
                    lengthPenalty), false));
        }
        Hypothesis best = done.stream().max(Comparator.comparingDouble(Hypothesis::score))
                .orElse(new Hypothesis(new int[0], 0, false));
        FinishReason reason = best.ended() ? FinishReason.STOP : FinishReason.LENGTH;
        String text = model.tokenizer().decode(best.ids(), true);
        return new Completion(prompt.clone(), best.ids(), text, reason, prefillMs, (System.nanoTime() - decodeStart) / 1e6);
    }

    private static double logSumExp(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        return max + Math.log(sum);
    }
}
