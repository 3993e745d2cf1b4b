package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.core.llm.Completion;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.sampling.Samplers;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder's whole forward pass on the cuda backend, run by the host emulation of the driver and kernels
 * ({@link EmulatedDriver}), against the CPU backend on the shared test models: every family (Llama, Qwen2,
 * Phi-3, GPT-2) and the device formats, native and converted. Closing a model must free every device byte.
 *
 * <p>Models whose activations stay float (F32, F16, BF16 weights) must agree within 1e-2 relative over the
 * logits of every prompt position, and greedily id for id. Where activations are rounded to 8-bit blocks
 * before each product (every quantized format, on both backends, as llama.cpp does), the two backends'
 * different summation orders — last-bit differences — now and then move a value across a rounding boundary:
 * one level of a 32-element block, or a block scale by one half-precision step (instrumenting stories260K
 * q8_0 showed a 2e-6 input difference becoming 1e-3 in the next product's output this way). The cache keeps
 * it, so the logits of these tiny models then differ by up to a few 1e-2: quantized models are held to 5e-2,
 * and to identical greedy ids only where the model is trained (stories260K), not where random weights make
 * the next-token distribution nearly flat.
 */
class CudaForwardEmulatedTest {
    private static final double FLOAT_TOLERANCE = 1e-2;
    private static final double QUANTIZED_TOLERANCE = 5e-2;
    private static final String PROMPT = "Once upon a time, there was a little";

    @BeforeAll
    static void emulate() {
        EmulatedDriver.load();
    }

    static Path model(String name) {
        for (String root : new String[] {System.getProperty("isthmus.shared", "../shared"), "../shared", "../../shared"}) {
            Path p = Path.of(root, "testdata", "models", name);
            if (Files.exists(p)) {
                return p;
            }
        }
        assumeTrue(false, "shared/testdata/models/" + name + " is absent: test skipped");
        return null;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stories260K.gguf", "stories260K-f16.gguf", "synth-llama256-bf16.gguf", "synth-qwen2.gguf",
            "synth-phi3.gguf", "synth-gpt2.gguf", "llama-2-tiny-random.gguf"})
    void floatActivationsMatchTheCpuBackend(String name) {
        compare(name, FLOAT_TOLERANCE, true);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stories260K-q8_0.gguf", "stories260K-q4_0.gguf", "stories260K-q4_1.gguf", "stories260K-q5_0.gguf",
            "stories260K-q5_1.gguf"})
    void quantizedTrainedModelsMatchTheCpuBackend(String name) {
        compare(name, QUANTIZED_TOLERANCE, true);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"synth-llama256-q4_k_m.gguf", "synth-llama256-q5_k_m.gguf", "synth-llama256-q6_k.gguf",
            "synth-llama256-iq4_nl.gguf", "synth-llama256-iq4_xs.gguf", "synth-llama256-q2_k.gguf", "synth-llama256-q3_k_m.gguf"})
    void quantizedRandomModelsMatchTheCpuBackend(String name) {
        compare(name, QUANTIZED_TOLERANCE, false);
    }

    private static void compare(String name, double tolerance, boolean greedy) {
        Path file = model(name);
        long before = EmulatedDriver.liveBytes();
        try (LanguageModel cpu = Llm.builder().model(file).backend("cpu").threads(1).contextLength(128).build();
             LanguageModel gpu = Llm.builder().model(file).backend("cuda").contextLength(128).build()) {
            assertThat(gpu.backendName()).isEqualTo("cuda");
            Completion a = cpu.complete(PROMPT).sampler(Samplers.greedy()).maxNewTokens(8).ignoreEos(true).call();
            Completion b = gpu.complete(PROMPT).sampler(Samplers.greedy()).maxNewTokens(8).ignoreEos(true).call();
            if (greedy) {
                assertThat(b.ids()).as("greedy ids on the device").containsExactly(a.ids());
            }
            int[] ids = a.promptIds();
            float[] expected = cpu.logits(ids);
            float[] actual = gpu.logits(ids);
            assertThat(MatmulComparison.relativeError(expected, actual)).as("logits of every prompt position")
                    .isLessThanOrEqualTo(tolerance);
        }
        assertThat(EmulatedDriver.liveBytes()).as("device bytes after closing the model").isEqualTo(before);
    }

    @Test
    void forkedAndRewoundSessionsContinueFromTheirOwnCache() {
        Path file = model("stories260K.gguf");
        try (LanguageModel cpu = Llm.builder().model(file).backend("cpu").threads(1).contextLength(64).build();
             LanguageModel gpu = Llm.builder().model(file).backend("cuda").contextLength(64).build()) {
            // Beam search forks states (copies of the device cache); a session reuses its cached prefix.
            Completion a = cpu.complete(PROMPT).beamSearch(3, 1f).maxNewTokens(6).ignoreEos(true).call();
            Completion b = gpu.complete(PROMPT).beamSearch(3, 1f).maxNewTokens(6).ignoreEos(true).call();
            assertThat(b.ids()).containsExactly(a.ids());
            try (var cs = cpu.newSession(); var gs = gpu.newSession()) {
                for (String p : new String[] {PROMPT, PROMPT + " girl", "Once upon"}) {
                    Completion x = cs.complete(p).sampler(Samplers.greedy()).maxNewTokens(4).ignoreEos(true).call();
                    Completion y = gs.complete(p).sampler(Samplers.greedy()).maxNewTokens(4).ignoreEos(true).call();
                    assertThat(y.ids()).as("session continuation of %s", p).containsExactly(x.ids());
                }
            }
        }
    }
}
