package dev.isthmus.core.llm;

import dev.isthmus.core.sampling.SamplerSpec;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Everything a generation needs besides the prompt (validated by the request builders). */
record GenerationParams(SamplerSpec sampler, int maxNewTokens, List<String> stopStrings, int[] stopTokens,
                        boolean ignoreEos, BooleanSupplier cancelled) {
}
