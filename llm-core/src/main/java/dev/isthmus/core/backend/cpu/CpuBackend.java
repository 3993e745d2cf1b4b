package dev.isthmus.core.backend.cpu;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.Linear;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.RowGroupLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Matrix multiplication on the CPU: rows of the weight matrix are split over a {@link WorkerTeam}; each
 * row is decoded by its {@link BlockFormat} (Vector API kernels) once and multiplied with every
 * activation vector of the batch, so prefill reads the weights once per chunk rather than once per token.
 */
public final class CpuBackend implements Backend {
    /** Below this many multiply-adds a matmul runs on the calling thread: forking would cost more. */
    private static final long PARALLEL_THRESHOLD = 1L << 16;
    /** Batches from this size use the 16×6 panel kernel. */
    static final int PANEL_MIN_BATCH = 32;
    /**
     * Below this many tokens a weight in row groups runs the group kernels, several tokens a call where the layout
     * has a multi-token kernel ({@link RowGroupLayout#dotTokens}). The float panels would cost less per token from
     * about 16 tokens (a 32-token batch measured at 0.65 of the multi-token kernels' time per token, and half the
     * single-token kernel's), but only the group kernels compute what llama.cpp computes for a prompt, so the
     * switch waits as long as for the single-row integer kernels: at 16, synth q4_0's 25-token prompt matched llama.cpp's
     * probabilities within 1e-4 at 1 of 80 positions instead of 75.
     */
    static final int GROUP_MAX_BATCH = PANEL_MIN_BATCH;
    /** Sixteen zeros: the panel tiles start their accumulators at a bias. */
    private static final float[] NO_BIAS = new float[16];
    /** A thread that owns no arena, to ask whether a segment may be used from worker threads. */
    private static final Thread PROBE_THREAD = Thread.ofPlatform().unstarted(() -> { });

    private final int threads;
    private final ThreadLocal<float[]> rowBuffer = ThreadLocal.withInitial(() -> new float[0]);
    private final ThreadLocal<QuantizedActivations> quantizedBuffer = ThreadLocal.withInitial(QuantizedActivations::new);
    private final ThreadLocal<float[]> activationBuffer = ThreadLocal.withInitial(() -> new float[0]);
    private final ThreadLocal<float[]> panelRows = ThreadLocal.withInitial(() -> new float[0]);
    private final ThreadLocal<float[]> panelBuffer = ThreadLocal.withInitial(() -> new float[0]);
    /**
     * Whether {@link #prepare} stores weights in their format's {@link RowGroupLayout} (system property
     * {@code isthmus.cpu.rowGroups}, default true; off, decode reads the file's own layout).
     */
    private static final boolean ROW_GROUPS = !"false".equalsIgnoreCase(System.getProperty("isthmus.cpu.rowGroups"));

    /** The worker threads (besides the caller) of every parallel step, started with the first one. */
    private WorkerTeam team;
    private boolean closed;
    /** Weights copied into row groups by {@link #prepare}, by identity (tensors do not override equals). */
    private final Map<Tensor, Grouped> grouped = new ConcurrentHashMap<>();
    /** Holds the row-group copies ({@link HugePageMemory}); closed with the backend. */
    private Arena arena;

    /** A weight in its format's row-group layout. */
    private record Grouped(RowGroupLayout layout, MemorySegment data, long groupBytes) {
    }

    public CpuBackend(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int threads() {
        return threads;
    }

    @Override
    public boolean supports(Tensor weight) {
        return BlockFormats.find(weight.type()).isPresent();
    }

    /**
     * Copies {@code weight} into its format's {@link RowGroupLayout} where it has one and the weight fits it
     * (off-heap, once per tensor): decode and prompts under {@value #GROUP_MAX_BATCH} tokens then run the
     * layout's group kernel, longer prompts the float panels decoded from the groups. A mapped weight's pages are
     * released from the resident set afterwards.
     */
    @Override
    public void prepare(Tensor weight) {
        Backend.super.prepare(weight);
        Optional<RowGroupLayout> layouts = weight.format().rowGroups();
        // Prefill decodes two or more whole groups per 16-row panel, and groups feed the 4-row kernel.
        if (!ROW_GROUPS || layouts.isEmpty() || 16 % layouts.get().rows() != 0 || layouts.get().rows() % 4 != 0
                || grouped.containsKey(weight)
                || !weight.segment().isAccessibleBy(PROBE_THREAD) || !layouts.get().canPack(weight)) {
            return;
        }
        RowGroupLayout layout = layouts.get();
        int cols = Math.toIntExact(weight.dim(1));
        long groupBytes = layout.groupBytes(cols);
        int groups = Math.toIntExact(weight.dim(0) / layout.rows());
        MemorySegment data = HugePageMemory.allocate(arena(), groupBytes * groups);
        parallelFor(groups, g -> layout.pack(weight, g * layout.rows(), data, g * groupBytes));
        grouped.put(weight, new Grouped(layout, data, groupBytes));
        if (weight.segment().isMapped()) {
            // The copy is what gets read from now on: let the file's pages go from this process's resident set
            // (they stay in the page cache, and a later read, e.g. of a tied embedding row, maps them back).
            weight.segment().unload();
        }
    }

    private synchronized Arena arena() {
        if (closed) {
            throw new IllegalStateException("backend is closed");
        }
        if (arena == null) {
            arena = Arena.ofShared();
        }
        return arena;
    }

    @Override
    public void matmul(Tensor weight, float[] x, float[] out, int batch, boolean referenceRounding) {
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("matmul needs a 2-D weight, " + weight + " has rank " + weight.rank());
        }
        int rows = Math.toIntExact(weight.dim(0));
        int cols = Math.toIntExact(weight.dim(1));
        if (batch < 1 || (long) batch * cols > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("matmul of " + weight + " with batch " + batch + " needs "
                    + (long) batch * cols + " inputs and " + (long) batch * rows + " outputs, got "
                    + x.length + " and " + out.length);
        }
        Grouped groups = grouped.get(weight);
        if (groups != null && referenceRounding && batch < GROUP_MAX_BATCH) {
            matmulGroups(groups, x, out, rows, cols, batch);
            return;
        }
        BlockFormat format = weight.format();
        QuantizedActivations quantized = null;
        if (groups == null && referenceRounding && format.quantizesActivations()
                && (batch < PANEL_MIN_BATCH || !CpuOps.panelKernelsAvailable())) {
            // Decode and short prompts: activations quantized once, every (row, token) through the format's
            // integer kernel — llama.cpp's arithmetic. Longer batches are compute-bound: the float panel
            // kernel is faster there.
            quantized = quantizedBuffer.get();
            format.quantizeActivations(x, 0, batch * cols, quantized);
        } else if (referenceRounding && format.roundsActivations()) {
            float[] rounded = activationBuffer.get();
            if (rounded.length < batch * cols) {
                rounded = new float[batch * cols];
                activationBuffer.set(rounded);
            }
            roundActivations(format, x, rounded, cols, batch);
            x = rounded;
        }
        MemorySegment data = weight.segment();
        long rowBytes = weight.rowBytes();
        long base = weight.isPacked() ? 0 : -1;
        Job job = new Job(weight, format, data, rowBytes, base, x, quantized, out, rows, cols, batch, groups);
        long work = (long) rows * cols * batch;
        // Memory of a confined arena may only be touched by its owner thread: compute on the caller.
        boolean shareable = data.isAccessibleBy(PROBE_THREAD);
        if (threads == 1 || work < PARALLEL_THRESHOLD || rows < 2 || !shareable) {
            job.run(0, rows);
        } else {
            // Chunks of whole 16-row panels, handed out by the spinning team: a decode step runs ~60 of these per
            // token, too short for a fork-join wake-up each, so four chunks per thread there. A prompt's panels take
            // some 0.1 ms each: one panel per chunk lets the threads finish together (2-3% faster at 128 tokens).
            int chunkRows = batch >= PANEL_MIN_BATCH ? 16 : Math.max(16, ((rows + 4 * threads - 1) / (4 * threads) + 15) & ~15);
            int chunks = (rows + chunkRows - 1) / chunkRows;
            team().run(chunks, i -> job.run(i * chunkRows, Math.min(rows, (i + 1) * chunkRows)));
        }
    }

    /** Rounds each token's activations as the format's reference does; a prompt's tokens in parallel. */
    private void roundActivations(BlockFormat format, float[] x, float[] rounded, int cols, int batch) {
        if ((long) batch * cols < PARALLEL_THRESHOLD) {
            for (int b = 0; b < batch; b++) {
                format.roundActivations(x, b * cols, rounded, b * cols, cols);
            }
        } else {
            parallelFor(batch, b -> format.roundActivations(x, b * cols, rounded, b * cols, cols));
        }
    }

    /**
     * Decode and short prompts on a weight in row groups: activations quantized once, then the group kernels, a
     * prompt's tokens {@link RowGroupLayout#tokensPerCall()} at a time.
     */
    private void matmulGroups(Grouped g, float[] x, float[] out, int rows, int cols, int batch) {
        QuantizedActivations quantized = quantizedBuffer.get();
        g.layout().quantizeActivations(x, 0, batch * cols, quantized);
        int groupRows = g.layout().rows();
        int groups = rows / groupRows;
        int step = g.layout().tokensPerCall();
        IntConsumerRange job = (from, to) -> {
            if (batch == 1) {
                for (int i = from; i < to; i++) {
                    g.layout().dot(g.data(), i * g.groupBytes(), quantized, 0, cols, out, i * groupRows);
                }
                return;
            }
            // Tokens outermost: the activations a kernel reads for one step's tokens (16 bytes an activation as
            // pair vectors) stay in cache over the range's groups, where for each group in turn the whole batch's
            // would be read again.
            for (int b = 0; b < batch; b += step) {
                int tokens = Math.min(step, batch - b);
                for (int i = from; i < to; i++) {
                    g.layout().dotTokens(g.data(), i * g.groupBytes(), quantized, b * cols, cols, tokens, out,
                            b * rows + i * groupRows, rows);
                }
            }
        };
        if (threads == 1 || (long) rows * cols * batch < PARALLEL_THRESHOLD) {
            job.run(0, groups);
        } else {
            int chunk = Math.max(1, (groups + 4 * threads - 1) / (4 * threads));
            int chunks = (groups + chunk - 1) / chunk;
            team().run(chunks, i -> job.run(i * chunk, Math.min(groups, (i + 1) * chunk)));
        }
    }

    @FunctionalInterface
    private interface IntConsumerRange {
        void run(int from, int to);
    }

    private final class Job {
        final Tensor weight;
        final BlockFormat format;
        final MemorySegment data;
        final long rowBytes;
        final boolean packed;
        final float[] x;
        final QuantizedActivations quantized;
        final float[] out;
        final int rows;
        final int cols;
        final int batch;
        /** The weight's row groups, decoded instead of the file's rows where present. */
        final Grouped groups;

        Job(Tensor weight, BlockFormat format, MemorySegment data, long rowBytes, long base, float[] x,
            QuantizedActivations quantized, float[] out, int rows, int cols, int batch, Grouped groups) {
            this.weight = weight;
            this.format = format;
            this.data = data;
            this.rowBytes = rowBytes;
            this.packed = base == 0;
            this.x = x;
            this.quantized = quantized;
            this.out = out;
            this.rows = rows;
            this.cols = cols;
            this.batch = batch;
            this.groups = groups;
        }

        long offset(int r) {
            return packed ? r * rowBytes : weight.rowOffset(r);
        }

        void run(int from, int to) {
            if (quantized != null) {
                for (int r = from; r < to; r++) {
                    int b = 0;
                    for (; b + 2 <= batch; b += 2) {
                        format.dotQuantized2(data, offset(r), quantized, b * cols, (b + 1) * cols, cols, out,
                                b * rows + r, (b + 1) * rows + r);
                    }
                    if (b < batch) {
                        out[b * rows + r] = format.dotQuantized(data, offset(r), quantized, b * cols, cols);
                    }
                }
                return;
            }
            if (groups != null) {
                runGroups(from, to);
                return;
            }
            if (batch == 1) {
                int r = from;
                for (; r + 4 <= to; r += 4) {
                    format.dot4(data, offset(r), offset(r + 1), offset(r + 2), offset(r + 3), x, 0, cols, out, r);
                }
                for (; r < to; r++) {
                    out[r] = format.dot(data, offset(r), x, 0, cols);
                }
                return;
            }
            int r = from;
            // The panel layout costs one scalar transpose per weight; it pays off from a few dozen tokens.
            if (batch >= PANEL_MIN_BATCH && CpuOps.panelKernelsAvailable()) {
                r = panels(from, to);
            }
            // Decode four rows at a time, then run the 4-row × 2-token kernel over the batch.
            float[] rows4 = rowBuffer.get();
            if (rows4.length < 4 * cols) {
                rows4 = new float[4 * cols];
                rowBuffer.set(rows4);
            }
            for (; r + 4 <= to; r += 4) {
                for (int k = 0; k < 4; k++) {
                    format.dequantize(data, offset(r + k), rows4, k * cols, cols);
                }
                int b = 0;
                for (; b + 2 <= batch; b += 2) {
                    CpuOps.dot4x2(rows4, 0, cols, x, b * cols, (b + 1) * cols, out, b * rows + r, (b + 1) * rows + r, 1);
                }
                for (; b < batch; b++) {
                    for (int k = 0; k < 4; k++) {
                        out[b * rows + r + k] = CpuOps.dot(rows4, k * cols, x, b * cols, cols);
                    }
                }
            }
            for (; r < to; r++) {
                format.dequantize(data, offset(r), rows4, 0, cols);
                for (int b = 0; b < batch; b++) {
                    out[b * rows + r] = CpuOps.dot(rows4, 0, x, b * cols, cols);
                }
            }
        }

        /**
         * The float kernels on weights in row groups (whose chunks start at multiples of 16 rows): panels decoded
         * straight from two groups, then any last group through the 4-row kernel.
         */
        void runGroups(int from, int to) {
            int r = from;
            if (batch >= GROUP_MAX_BATCH && CpuOps.panelKernelsAvailable()) {
                r = panels(from, to);
            }
            int groupRows = groups.layout().rows();
            float[] rowsOfGroup = rowBuffer.get();
            if (rowsOfGroup.length < groupRows * cols) {
                rowsOfGroup = new float[groupRows * cols];
                rowBuffer.set(rowsOfGroup);
            }
            for (; r < to; r += groupRows) {
                groups.layout().dequantize(groups.data(), r / groupRows * groups.groupBytes(), cols, rowsOfGroup, 0, cols, 1);
                for (int k = 0; k + 4 <= groupRows; k += 4) {
                    int b = 0;
                    for (; b + 2 <= batch; b += 2) {
                        CpuOps.dot4x2(rowsOfGroup, k * cols, cols, x, b * cols, (b + 1) * cols, out, b * rows + r + k,
                                (b + 1) * rows + r + k, 1);
                    }
                    for (; b < batch; b++) {
                        for (int j = k; j < k + 4; j++) {
                            out[b * rows + r + j] = CpuOps.dot(rowsOfGroup, j * cols, x, b * cols, cols);
                        }
                    }
                }
            }
        }

        /**
         * Rows in panels of 16: decode them, lay them out column-major, and run the 16×6 outer-product kernel
         * over the batch. Returns the first row not handled (the remainder goes to the 4×2 kernel).
         */
        int panels(int from, int to) {
            float[] rows16 = panelRows.get();
            if (rows16.length < 16 * cols) {
                rows16 = new float[16 * cols];
                panelRows.set(rows16);
            }
            float[] panel = panelBuffer.get();
            if (panel.length < 16 * cols) {
                panel = new float[16 * cols];
                panelBuffer.set(panel);
            }
            int r = from;
            for (; r + 16 <= to; r += 16) {
                if (groups != null) {
                    // Column-major straight from the groups (8 rows each): no transpose.
                    for (int g = 0; g < 16; g += groups.layout().rows()) {
                        groups.layout().dequantize(groups.data(), (r + g) / groups.layout().rows() * groups.groupBytes(),
                                cols, panel, g, 1, 16);
                    }
                } else {
                    for (int j = 0; j < 16; j++) {
                        format.dequantize(data, offset(r + j), rows16, j * cols, cols);
                    }
                    CpuOps.transpose16(rows16, panel, cols);
                }
                int t = 0;
                for (; t + 6 <= batch; t += 6) {
                    CpuOps.panel16x6(panel, cols, x, t, out, r, rows);
                }
                if (t < batch) {
                    // The last one to five tokens in tiles of 4, 2 and 1 (the encoders' packed kernels).
                    PackedKernels.tiles(panel, 0, cols, x, t, batch, NO_BIAS, 0, out, r, rows);
                }
            }
            return r;
        }
    }

    /**
     * Decodes the weights once to float panels ({@link PackedLinear}) that a product reads directly, from one
     * activation row up; products run on a {@link WorkerTeam} of this backend's thread count. Falls back to the
     * default (a {@link #matmul} per call) where the panel kernels cannot run or the weights are too large.
     */
    @Override
    public Linear linear(List<Tensor> stacked, float[] bias, Linear.Activation activation) {
        long rows = 0;
        for (Tensor w : stacked) {
            rows += w.rank() == 2 ? w.dim(0) : 0;
        }
        if (!PackedKernels.available() || stacked.isEmpty() || stacked.get(0).rank() != 2
                || !PackedLinear.fits(rows, stacked.get(0).dim(1))) {
            return Backend.super.linear(stacked, bias, activation);
        }
        return PackedLinear.pack(stacked, bias, activation, team(), threads);
    }

    private synchronized WorkerTeam team() {
        if (threads == 1) {
            return null;
        }
        if (closed) {
            throw new IllegalStateException("backend is closed");
        }
        if (team == null) {
            team = new WorkerTeam(threads - 1, "isthmus-cpu");
        }
        return team;
    }

    @Override
    public void parallelFor(int count, java.util.function.IntConsumer body) {
        if (threads == 1 || count < 2) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        team().run(count, body::accept);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (team != null) {
                team.close();
            }
            grouped.clear();
            if (arena != null) {
                arena.close();
            }
        }
    }

    @Override
    public String toString() {
        return "CpuBackend[" + threads + " threads]";
    }
}
