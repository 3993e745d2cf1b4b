package dev.isthmus.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.adapter.LoraAdapter;
import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Backends;
import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.testing.SharedTestData;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * How {@link DecoderModel} hands a backend's {@link DeviceForward} its work: token batches at the right
 * positions, a cache per state, copies for forks, releases, and adapters refused. The "device" here runs the
 * host pass on a second model, so its logits must equal the host model's exactly.
 */
class DeviceForwardPlumbingTest {
    private static final String MODEL = "models/stories260K.gguf";

    /** A DeviceForward whose caches are host states of a host-run model, recording every call. */
    static final class HostDevice implements DeviceForward {
        final DecoderModel inner;
        final List<String> calls = new ArrayList<>();

        HostDevice(DecoderModel inner) {
            this.inner = inner;
        }

        final class HostCache implements Cache {
            final InferenceState state;
            boolean released;

            HostCache(InferenceState state) {
                this.state = state;
            }

            @Override
            public int capacity() {
                return state.capacity();
            }

            @Override
            public Cache copy(int positions) {
                calls.add("copy " + positions);
                InferenceState c = state.copy();
                c.rewind(positions);
                return new HostCache(c);
            }

            @Override
            public void release() {
                released = true;
            }
        }

        @Override
        public Cache newCache(int capacity, boolean halfPrecision) {
            calls.add("cache " + capacity + (halfPrecision ? " half" : " full"));
            return new HostCache(inner.newState(capacity, halfPrecision));
        }

        @Override
        public void forward(Cache cache, int[] tokens, int offset, int count, int start, float[] logits, boolean all) {
            calls.add("forward " + count + " at " + start);
            HostCache c = (HostCache) cache;
            assertThat(c.released).as("forward on a released cache").isFalse();
            c.state.rewind(Math.min(c.state.position(), start));
            assertThat(c.state.position()).as("the model passes the state's position as start").isEqualTo(start);
            inner.forward(c.state, tokens, offset, count, logits, all);
        }
    }

    /** A rank-1 adapter of layer 0's query projection. */
    private static LoraAdapter rankOneAdapter(java.nio.file.Path dir, int dim) throws java.io.IOException {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment a = arena.allocate(4L * dim);
            java.lang.foreign.MemorySegment b = arena.allocate(4L * dim);
            String base = "base_model.model.model.layers.0.self_attn.q_proj.lora_";
            dev.isthmus.core.safetensors.SafetensorsWriter.create()
                    .add(base + "A.weight", dev.isthmus.core.safetensors.SafetensorsDType.F32, new long[] {1, dim}, a)
                    .add(base + "B.weight", dev.isthmus.core.safetensors.SafetensorsDType.F32, new long[] {dim, 1}, b)
                    .write(dir.resolve("adapter_model.safetensors"));
        }
        return LoraAdapter.load(dir);
    }

    /** The CPU backend, offering {@code device} as its forward pass. */
    private static Backend offering(Backend cpu, DeviceForward device) {
        return new Backend() {
            @Override
            public String name() {
                return "test-device";
            }

            @Override
            public int threads() {
                return cpu.threads();
            }

            @Override
            public boolean supports(Tensor weight) {
                return cpu.supports(weight);
            }

            @Override
            public void matmul(Tensor weight, float[] x, float[] out, int batch, boolean referenceRounding) {
                throw new AssertionError("a device forward pass must not multiply on the host");
            }

            @Override
            public Optional<DeviceForward> forwardPass(ModelConfig config, DecoderWeights weights) {
                return Optional.of(device);
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void batchesPositionsCopiesAndReleasesGoThroughTheDevice() throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata(MODEL)); Backend cpu = Backends.create("cpu", 1)) {
            DecoderModel host = DecoderModel.load(gguf, cpu);
            HostDevice device = new HostDevice(DecoderModel.load(gguf, cpu));
            DecoderModel onDevice = DecoderModel.load(gguf, offering(cpu, device));
            assertThat(onDevice.runsOnDevice()).isTrue();
            assertThat(host.runsOnDevice()).isFalse();

            int vocab = host.config().vocabSize();
            int[] prompt = {1, 403, 407, 261, 378, 429, 309};
            InferenceState h = host.newState(64);
            InferenceState d = onDevice.newState(64);
            assertThat(d.capacity()).isEqualTo(64);
            float[] hl = new float[prompt.length * vocab];
            float[] dl = new float[prompt.length * vocab];
            host.forward(h, prompt, 0, prompt.length, hl, true);
            onDevice.forward(d, prompt, 0, prompt.length, dl, true);
            assertThat(dl).containsExactly(hl);
            assertThat(d.position()).isEqualTo(prompt.length);

            InferenceState fork = d.copy();
            float[] one = new float[vocab];
            float[] two = new float[vocab];
            onDevice.forward(d, new int[] {300}, 0, 1, one, false);
            onDevice.forward(fork, new int[] {300}, 0, 1, two, false);
            assertThat(two).as("a fork continues from the copied positions").containsExactly(one);
            host.forward(h, new int[] {300}, 0, 1, hl, false);
            assertThat(one).containsExactly(java.util.Arrays.copyOf(hl, vocab));

            d.rewind(3);
            onDevice.forward(d, new int[] {42}, 0, 1, one, false);
            assertThat(device.calls).containsExactly("cache 64 half", "forward 7 at 0", "copy 7", "forward 1 at 7",
                    "forward 1 at 7", "forward 1 at 3");

            d.release();
            assertThat(((HostDevice.HostCache) d.deviceCache).released).isTrue();
            h.release(); // a host state has nothing to release
            host.forward(h, new int[] {42}, 0, 1, hl, false);
        }
    }

    @Test
    void adaptersAreRefusedOnADeviceAndContextLimitsStillApply(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        try (GgufFile gguf = GgufFile.open(SharedTestData.testdata(MODEL)); Backend cpu = Backends.create("cpu", 1)) {
            DecoderModel onDevice = DecoderModel.load(gguf, offering(cpu, new HostDevice(DecoderModel.load(gguf, cpu))));
            assertThat(onDevice.projection(0, "attn_q")).isNotNull();
            onDevice.setAdapters(List.of()); // clearing is always fine
            LoraAdapter adapter = rankOneAdapter(dir, onDevice.config().dim());
            assertThatThrownBy(() -> onDevice.setAdapters(List.of(adapter)))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("test-device").hasMessageContaining("LoRA");
            InferenceState s = onDevice.newState(4);
            float[] logits = new float[onDevice.config().vocabSize()];
            assertThatThrownBy(() -> onDevice.forward(s, new int[] {1, 2, 3, 4, 5}, 0, 5, logits, false))
                    .isInstanceOf(ContextOverflowException.class);
            assertThatThrownBy(() -> onDevice.forward(s, new int[] {-1}, 0, 1, logits, false))
                    .hasMessageContaining("outside the vocabulary");
        }
    }
}
