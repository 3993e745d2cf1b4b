package dev.isthmus.gpu.cuda;

import dev.isthmus.core.model.ModelConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The device buffers of {@link CudaForward}'s passes — activations for {@code batch} tokens, attention scores
 * over {@code positions} — allocated together, grown by replacing, freed together.
 *
 * <pre>{@code
 * ForwardWorkspace ws = new ForwardWorkspace(context, config, 512, 2048);
 * ws.put(embeddings, ws.x);
 * }</pre>
 */
final class ForwardWorkspace {
    final int batch;
    final int positions;
    final DeviceBuffer x;
    final DeviceBuffer xb;
    final DeviceBuffer q;
    final DeviceBuffer qkv;
    final DeviceBuffer att;
    final DeviceBuffer proj;
    final DeviceBuffer hb;
    final DeviceBuffer hb2;
    final DeviceBuffer gateUp;
    final DeviceBuffer rounded;
    /** One token's rounded activations as Q8_0 integers (LaunchPlanner#integerActivationBytes), for decode. */
    final DeviceBuffer roundedInts;
    final DeviceBuffer scores;
    final DeviceBuffer cos;
    final DeviceBuffer sin;
    final DeviceBuffer logits;
    /** Partial sums of split prefill products (LaunchPlanner#splits). */
    final DeviceBuffer partial;
    private final CudaContext context;
    private final List<DeviceBuffer> all = new ArrayList<>();

    ForwardWorkspace(CudaContext context, ModelConfig c, int batch, int positions) {
        this.context = context;
        this.batch = batch;
        this.positions = positions;
        int widest = Math.max(Math.max(c.dim(), c.qDim()), c.ffnDim());
        x = floats(batch * c.dim(), "x");
        xb = floats(batch * c.dim(), "normed x");
        q = floats(batch * c.qDim(), "queries");
        qkv = floats(batch * (c.qDim() + 2 * c.kvDim()), "fused qkv");
        att = floats(batch * c.qDim(), "attention");
        proj = floats(batch * c.dim(), "projection");
        hb = floats(batch * c.ffnDim(), "ffn gate");
        hb2 = floats(batch * c.ffnDim(), "ffn up");
        gateUp = floats(2L * batch * c.ffnDim(), "fused gate-up");
        rounded = floats((long) batch * widest, "rounded activations");
        roundedInts = context.allocate(LaunchPlanner.integerActivationBytes(widest), "integer activations");
        all.add(roundedInts);
        // Enough for one query over the longest cache, or every query of a batch within the budget.
        long perQuery = (long) c.heads() * positions;
        scores = floats(Math.max(perQuery, Math.min(batch * perQuery, CudaForward.SCORE_BUDGET)), "attention scores");
        cos = floats(batch * Math.max(1, c.ropeDims() / 2), "rope cos");
        sin = floats(batch * Math.max(1, c.ropeDims() / 2), "rope sin");
        logits = floats((long) batch * c.vocabSize(), "logits");
        partial = floats(partialFloats(c, batch), "split partial sums");
    }

    /** Room for the partial sums of a few column ranges of the widest product of a batch. */
    static long partialFloats(ModelConfig c, int batch) {
        return 2L * batch * Math.max(Math.max(c.dim(), c.qDim()), c.ffnDim());
    }

    boolean fits(int n, int capacity) {
        return n <= batch && capacity <= positions;
    }

    private DeviceBuffer floats(long count, String label) {
        DeviceBuffer b = context.allocate(4 * count, label);
        all.add(b);
        return b;
    }

    void put(float[] src, DeviceBuffer dst) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocateFrom(ValueLayout.JAVA_FLOAT, src);
            context.upload(s, dst, 0, s.byteSize());
        }
    }

    void get(DeviceBuffer src, float[] dst, int offset, int count) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4L * count, 64);
            context.download(src, s, 4L * count);
            MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, dst, offset, count);
        }
    }

    void close() {
        all.forEach(DeviceBuffer::close);
    }
}
