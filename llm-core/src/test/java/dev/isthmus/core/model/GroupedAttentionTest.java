package dev.isthmus.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.backend.cpu.CpuBackend;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.testing.SharedTestData;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * With a half precision cache, the query heads that share a key/value head are computed together, position by
 * position, unless that leaves a thread without a task; then one head per task. Both must be the same
 * arithmetic per head. On stories260K (8 query heads over 4 key/value heads), one thread groups the heads in
 * decode and 64 threads do not: over 300 decode steps (one token at a time, so that the matrix products, whose
 * prompt kernels depend on how rows are split between threads, are the same), every step's logits must agree
 * bit for bit.
 */
class GroupedAttentionTest {

    @Test
    void groupedAndPerHeadAttentionGiveTheSameLogitsBitForBit() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata("models/stories260K.gguf"));
             CpuBackend oneThread = new CpuBackend(1); CpuBackend manyThreads = new CpuBackend(64)) {
            DecoderModel grouped = DecoderModel.load(gguf, oneThread);
            DecoderModel perHead = DecoderModel.load(gguf, manyThreads);
            int vocab = grouped.config().vocabSize();
            int[] tokens = new SplittableRandom(3).ints(300, 1, vocab).toArray();
            InferenceState a = grouped.newState(512);
            InferenceState b = perHead.newState(512);
            float[] la = new float[vocab];
            float[] lb = new float[vocab];
            for (int step = 0; step < tokens.length; step++) {
                grouped.forward(a, tokens, step, 1, la, false);
                perHead.forward(b, tokens, step, 1, lb, false);
                assertThat(lb).as("decode step %d", step).containsExactly(la);
            }
        }
    }
}
