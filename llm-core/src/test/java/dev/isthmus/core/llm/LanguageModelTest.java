package dev.isthmus.core.llm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.core.model.ContextOverflowException;
import dev.isthmus.core.model.UnsupportedArchitectureException;
import dev.isthmus.core.sampling.Samplers;
import dev.isthmus.core.testing.SharedTestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LanguageModelTest {
    private static LanguageModel stories;

    @BeforeAll
    static void load() {
        stories = Llm.builder().model(SharedTestData.testdata("models/stories260K.gguf")).threads(2).build();
    }

    @AfterAll
    static void close() {
        if (stories != null) {
            stories.close();
        }
    }

    static Stream<JsonNode> references() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(SharedTestData.testdata("reference/stories260K-greedy.jsonl"))) {
            out.add(json.readTree(line));
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("references")
    void fluentApiReproducesLlamaCppFromText(JsonNode ref) {
        int[] promptIds = ids(ref.get("prompt_ids"));
        boolean bos = promptIds[0] == 1;
        Completion c = stories.complete(ref.get("prompt").asText()).addBos(bos)
                .maxNewTokens(ref.get("ids").size()).ignoreEos(true).call();
        assertThat(c.promptIds()).as("prompt tokenization").containsExactly(promptIds);
        assertThat(c.ids()).as("generated ids").containsExactly(ids(ref.get("ids")));
        assertThat(c.text()).as("generated text").isEqualTo(ref.get("text").asText());
        assertThat(c.finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    static int[] ids(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    @Test
    void streamedPiecesConcatenateToTheText() {
        StringBuilder streamed = new StringBuilder();
        AtomicInteger count = new AtomicInteger();
        Completion c = stories.complete("Once upon a time").maxNewTokens(20)
                .stream(t -> {
                    streamed.append(t.text());
                    count.incrementAndGet();
                });
        assertThat(streamed.toString()).endsWith(c.text());
        assertThat(streamed.toString().strip()).isEqualTo(c.text().strip());
        assertThat(count.get()).isEqualTo(c.ids().length);
        assertThat(c.prefillTokensPerSecond()).isPositive();
    }

    @Test
    void stopStringEndsGenerationAndIsNotEmitted() {
        String full = stories.complete("Once upon a time").maxNewTokens(48).text();
        int at = full.indexOf(" girl");
        assertThat(at).as("the reference continuation mentions a girl").isPositive();
        Completion c = stories.complete("Once upon a time").maxNewTokens(48).stop(" girl").call();
        assertThat(c.finishReason()).isEqualTo(FinishReason.STOP_STRING);
        assertThat(c.text()).isEqualTo(full.substring(0, at));
    }

    @Test
    void stopStringSpanningTokensIsFound() {
        String full = stories.complete("Once upon a time").maxNewTokens(48).text();
        // "little girl" spans several tokens.
        Completion c = stories.complete("Once upon a time").maxNewTokens(48).stop("tle gi").call();
        assertThat(c.text()).isEqualTo(full.substring(0, full.indexOf("tle gi")));
        StringBuilder streamed = new StringBuilder();
        stories.complete("Once upon a time").maxNewTokens(48).stop("tle gi").stream(t -> streamed.append(t.text()));
        assertThat(streamed.toString()).doesNotContain("tle").endsWith(c.text());
    }

    @Test
    void tokensStreamIsLazy() {
        List<GeneratedToken> first = stories.complete("Once upon a time").maxNewTokens(48).tokens().limit(3).toList();
        assertThat(first).hasSize(3);
        String joined = stories.complete("Once upon a time").maxNewTokens(5).tokens().map(GeneratedToken::text)
                .collect(Collectors.joining());
        assertThat(joined).endsWith(stories.complete("Once upon a time").maxNewTokens(5).text());
    }

    @Test
    void cancellationStopsGeneration() {
        AtomicInteger seen = new AtomicInteger();
        Completion c = stories.complete("Once upon a time").maxNewTokens(48).cancelWhen(() -> seen.get() >= 4)
                .stream(t -> seen.incrementAndGet());
        assertThat(c.finishReason()).isEqualTo(FinishReason.CANCELLED);
        assertThat(c.ids()).hasSize(4);
    }

    @Test
    void sameSeedGivesSameTextDifferentSeedsDiffer() {
        var spec = Samplers.temperature(1.5f).seed(42);
        String a = stories.complete("Once upon a time").sampler(spec).maxNewTokens(30).text();
        String b = stories.complete("Once upon a time").sampler(spec).maxNewTokens(30).text();
        assertThat(a).isEqualTo(b);
        long distinct = Stream.of(1L, 2L, 3L, 4L).map(seed -> stories.complete("Once upon a time")
                .sampler(Samplers.temperature(1.5f).seed(seed)).maxNewTokens(30).text()).distinct().count();
        assertThat(distinct).as("different seeds give different texts").isGreaterThan(1);
    }

    @Test
    void sessionReusesThePromptPrefixWithTheSameResult() {
        String fresh = stories.complete("Once upon a time, there was a little girl").maxNewTokens(10).text();
        try (Session s = stories.newSession()) {
            s.complete("Once upon a time").maxNewTokens(5).text();
            String continued = s.complete("Once upon a time, there was a little girl").maxNewTokens(10).text();
            assertThat(continued).isEqualTo(fresh);
        }
    }

    @Test
    void longPromptsCrossingCacheGrowthGiveTheSameNextToken() {
        int[] base = stories.complete("Once upon a time there was a little girl named Lily.").call().promptIds();
        int[] ids = new int[300];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = base[i % base.length];
        }
        float[] oneBatch = stories.nextTokenLogits(ids);
        int expected = dev.isthmus.core.model.ReferenceGreedyTest.argmax(oneBatch);
        try (Session s = stories.newSession()) {
            s.complete(java.util.Arrays.copyOf(ids, 200)).maxNewTokens(1).call();
            Completion c = s.complete(ids).maxNewTokens(1).ignoreEos(true).call();
            assertThat(c.ids()).containsExactly(expected);
        }
    }

    @Test
    void scoreGivesEachTokensLogProbabilityFromTheLogits() {
        String text = "Once upon a time, there was a little girl named Lily.";
        TextScore score = stories.score(text);
        int[] ids = stories.complete(text).call().promptIds();
        assertThat(ids[0]).as("BOS").isEqualTo(1);
        assertThat(score.tokens()).containsExactly(java.util.Arrays.copyOfRange(ids, 1, ids.length));
        float[] logits = stories.logits(ids);
        int vocab = stories.config().vocabSize();
        for (int i = 1; i < ids.length; i++) {
            float[] row = java.util.Arrays.copyOfRange(logits, (i - 1) * vocab, i * vocab);
            double max = Double.NEGATIVE_INFINITY;
            for (float f : row) {
                max = Math.max(max, f);
            }
            double z = 0;
            for (float f : row) {
                z += Math.exp(f - max);
            }
            double expected = row[ids[i]] - max - Math.log(z);
            assertThat(score.logProbs()[i - 1]).as("token %d", i).isCloseTo(expected, org.assertj.core.api.Assertions.within(1e-4));
        }
        assertThat(score.perplexity()).isGreaterThan(1.0);
        assertThat(stories.score(text + " She loved to play.").totalLogProb()).isLessThan(score.totalLogProb());
    }

    @Test
    void promptLongerThanTheContextIsRefused() {
        try (LanguageModel small = Llm.builder().model(SharedTestData.testdata("models/stories260K.gguf"))
                .contextLength(8).threads(1).build()) {
            assertThatThrownBy(() -> small.complete("Once upon a time there was a little girl named Lily").text())
                    .isInstanceOf(ContextOverflowException.class).hasMessageContaining("context length 8");
            Completion c = small.complete("Once").maxNewTokens(100).call();
            assertThat(c.finishReason()).isEqualTo(FinishReason.CONTEXT_FULL);
        }
    }

    @Test
    void emptyPromptWithoutBosIsRefused() {
        assertThatThrownBy(() -> stories.complete("").addBos(false).text())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty prompt");
    }

    @Test
    void closedModelRefusesWork() {
        LanguageModel m = Llm.builder().model(SharedTestData.testdata("models/stories260K.gguf")).threads(1).build();
        m.close();
        m.close();
        assertThatThrownBy(() -> m.complete("Once").text()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void encoderArchitectureIsRefusedWithAHint() {
        assertThatThrownBy(() -> Llm.builder().model(SharedTestData.testdata("models/all-minilm-l6-v2-f16.gguf")).build())
                .isInstanceOf(UnsupportedArchitectureException.class).hasMessageContaining("bert");
    }

    @Test
    void concurrentGenerationsOnOneModelAgree() throws Exception {
        String expected = stories.complete("Once upon a time").maxNewTokens(24).text();
        List<Thread> threads = new ArrayList<>();
        List<String> results = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 4; i++) {
            Thread t = Thread.ofPlatform().start(() -> results.add(
                    stories.complete("Once upon a time").maxNewTokens(24).text()));
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(results).hasSize(4).containsOnly(expected);
    }

    @Test
    void chatUsesTheTemplateAndReturnsOnlyTheReply() {
        ChatRequest chat = stories.chat().system("Be brief.").user("Tell a story.");
        assertThat(chat.renderPrompt()).as("stories260K has no template: ChatML fallback")
                .isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nTell a story.<|im_end|>\n"
                        + "<|im_start|>assistant\n");
        ChatResponse reply = chat.maxNewTokens(8).call();
        assertThat(reply.completion().ids()).hasSizeLessThanOrEqualTo(8);
        assertThat(reply.text()).isEqualTo(reply.completion().text()).doesNotContain("<|im_start|>");
    }

    @Test
    void invalidSamplerParametersAreRejected() {
        assertThatThrownBy(() -> Samplers.temperature(-1f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> Samplers.topP(1.5f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topP");
        assertThatThrownBy(() -> stories.complete("x").maxNewTokens(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void beamSearchFindsASequenceAtLeastAsLikelyAsGreedy() {
        Completion greedy = stories.complete("Once upon a time").maxNewTokens(12).ignoreEos(true).call();
        Completion beam = stories.complete("Once upon a time").maxNewTokens(12).ignoreEos(true).beamSearch(1, 1f).call();
        // Width 1 runs the plain path; width 2 must score at least as well as greedy by summed log-probability.
        assertThat(beam.ids()).containsExactly(greedy.ids());
        Completion wide = stories.complete("Once upon a time").maxNewTokens(12).ignoreEos(true).beamSearch(4, 0f).call();
        assertThat(wide.ids()).hasSize(12);
        // Beam scores come from token-by-token logits, logprob() from one batch: equal up to float noise.
        assertThat(logprob(greedy)).isLessThanOrEqualTo(logprob(wide) + 1e-3);
    }

    /** Summed log-probability of a completion's ids given its prompt, from the model's own logits. */
    private static double logprob(Completion c) {
        int[] all = java.util.Arrays.copyOf(c.promptIds(), c.promptIds().length + c.ids().length);
        System.arraycopy(c.ids(), 0, all, c.promptIds().length, c.ids().length);
        float[] logits = stories.logits(all);
        int vocab = stories.config().vocabSize();
        double total = 0;
        for (int i = c.promptIds().length; i < all.length; i++) {
            total += Perplexity.logSoftmax(logits, (i - 1) * vocab, vocab, all[i]);
        }
        return total;
    }

    static Path model(String name) {
        return SharedTestData.testdata("models/" + name);
    }
}
