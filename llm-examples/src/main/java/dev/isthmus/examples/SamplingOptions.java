package dev.isthmus.examples;

import dev.isthmus.core.sampling.SamplerSpec;
import dev.isthmus.core.sampling.Samplers;
import picocli.CommandLine.Option;

/** Sampler options, named as llama.cpp's command-line tools name them. */
final class SamplingOptions {
    @Option(names = "--temp", description = "temperature; 0 = greedy (default 0)")
    float temperature;

    @Option(names = "--top-k", description = "top-k (0 = off)")
    int topK;

    @Option(names = "--top-p", description = "top-p (1 = off)")
    float topP = 1f;

    @Option(names = "--min-p", description = "min-p (0 = off)")
    float minP;

    @Option(names = "--repeat-penalty", description = "repetition penalty (1 = off)")
    float repeatPenalty = 1f;

    @Option(names = "--repeat-last-n", description = "tokens the penalties look at (-1 = all; default 64)")
    int repeatLastN = 64;

    @Option(names = "--frequency-penalty", description = "frequency penalty (0 = off)")
    float frequencyPenalty;

    @Option(names = "--presence-penalty", description = "presence penalty (0 = off)")
    float presencePenalty;

    @Option(names = "--seed", description = "random seed (default: random)")
    Long seed;

    SamplerSpec spec() {
        SamplerSpec s = Samplers.greedy().temperature(temperature).topK(topK).topP(topP).minP(minP)
                .repetitionPenalty(repeatPenalty).penaltyWindow(repeatLastN).frequencyPenalty(frequencyPenalty)
                .presencePenalty(presencePenalty);
        return seed == null ? s : s.seed(seed);
    }
}
