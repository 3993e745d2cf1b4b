package dev.isthmus.core.backend.cpu;

import dev.isthmus.core.backend.Linear;
import dev.isthmus.core.tensor.Tensor;
import java.util.List;

/**
 * A linear layer decoded once and packed in panels of {@value #PANEL} rows for {@link PackedKernels}:
 * panel p holds rows {@code [16p, 16p+16)}, column-major ({@code panels[16p·cols + 16k + j]} = row 16p+j,
 * column k); the last panel and the bias are padded with zeros. A product then reads every weight once per
 * tile of activation rows with no decoding or transposing, from one activation row up.
 *
 * <p>Weights that are all exactly representable as IEEE halves (F16 files; BF16 ones within the half's range)
 * are kept as halves, in pairs (rows j and j+8 of a column in one int), which halves the memory a product
 * streams — small-batch products are bound by it. Few activation rows widen them in registers ({@link
 * PackedKernels#halfTiles}); many widen a panel once into a per-thread buffer for the float tiles. Others
 * (quantized formats) are kept as floats. Either way the arithmetic is on the exact decoded weights.
 *
 * <p>Work is split into chunks of (activation rows × panels) handed out over a {@link WorkerTeam}: blocks of
 * activation rows that stay in the L3 cache, panel ranges so that every thread gets several chunks.
 */
final class PackedLinear implements Linear {
    static final int PANEL = 16;
    /**
     * Activation rows of a block are kept within about this many bytes: a panel (16 rows, in L1/L2) is widened once
     * per block and its tiles stream the block's rows from L3, a few bytes per multiply-add.
     */
    private static final int BLOCK_BYTES = 2 * 1024 * 1024;
    /**
     * Up to this many activation rows per block, half weights go through the half tiles; above it, widening a
     * panel once and running the float tiles costs less (measured on 384×1536: equal at 20 rows, 1.2× at 42).
     */
    private static final int HALF_TILE_ROWS = 20;
    /** Below this many multiply-adds a product runs on the calling thread. */
    private static final long PARALLEL_THRESHOLD = 1L << 16;
    /** A thread's buffer for one widened panel of halves, grown to the widest layer it has run. */
    private static final ThreadLocal<float[]> WIDENED = ThreadLocal.withInitial(() -> new float[0]);

    /** Float panels, or {@code null} where the weights are kept as {@link #halves}. */
    private final float[] panels;
    private final int[] halves;
    private final float[] bias;
    private final int rows;
    private final int cols;
    private final int panelCount;
    private final Activation activation;
    private final WorkerTeam team;
    private final int threads;

    private PackedLinear(float[] panels, int[] halves, float[] bias, int rows, int cols, Activation activation,
                         WorkerTeam team, int threads) {
        this.panels = panels;
        this.halves = halves;
        this.bias = bias;
        this.rows = rows;
        this.cols = cols;
        this.panelCount = (rows + PANEL - 1) / PANEL;
        this.activation = activation;
        this.team = team;
        this.threads = threads;
    }

    /** Whether {@code rows × cols} weights fit one packed float array. */
    static boolean fits(long rows, long cols) {
        return (rows + PANEL) * cols <= Integer.MAX_VALUE - 16;
    }

    /**
     * Decodes and packs {@code stacked} (rows concatenated) with {@code bias} ({@code null}: zeros).
     *
     * @throws IllegalArgumentException if the weights are not 2-D with one column count, the bias does not match,
     *                                  or they are too large to pack
     */
    static PackedLinear pack(List<Tensor> stacked, float[] bias, Activation activation, WorkerTeam team, int threads) {
        if (stacked.isEmpty()) {
            throw new IllegalArgumentException("a linear layer needs at least one weight matrix");
        }
        long rowSum = 0;
        int cols = -1;
        for (Tensor w : stacked) {
            if (w.rank() != 2) {
                throw new IllegalArgumentException("a linear layer needs 2-D weights, " + w + " has rank " + w.rank());
            }
            if (cols >= 0 && w.dim(1) != cols) {
                throw new IllegalArgumentException("stacked weights differ in width: " + stacked.get(0) + " and " + w);
            }
            cols = Math.toIntExact(w.dim(1));
            rowSum += w.dim(0);
        }
        if (!fits(rowSum, cols)) {
            throw new IllegalArgumentException("weights " + stacked + " are too large to pack as floats");
        }
        int rows = (int) rowSum;
        if (bias != null && bias.length != rows) {
            throw new IllegalArgumentException("bias of " + bias.length + " for " + rows + " output rows");
        }
        int padded = (rows + PANEL - 1) / PANEL * PANEL;
        float[] panels = new float[padded * cols];
        float[] row = new float[cols];
        boolean exactHalves = true;
        int g = 0;
        for (Tensor w : stacked) {
            for (long r = 0; r < w.dim(0); r++, g++) {
                w.dequantizeRow(r, row, 0);
                int base = g / PANEL * PANEL * cols + g % PANEL;
                for (int k = 0; k < cols; k++) {
                    float v = row[k];
                    panels[base + k * PANEL] = v;
                    exactHalves &= Float.float16ToFloat(Float.floatToFloat16(v)) == v && Float.isFinite(v);
                }
            }
        }
        float[] b = new float[padded];
        if (bias != null) {
            System.arraycopy(bias, 0, b, 0, rows);
        }
        if (!exactHalves) {
            return new PackedLinear(panels, null, b, rows, cols, activation, team, threads);
        }
        // Pairs: int q + 8k + j of panel p (q = 8p·cols) holds row j in its low, row j+8 in its high 16 bits.
        int[] halves = new int[panels.length / 2];
        for (int p = 0; p < padded / PANEL; p++) {
            int base = p * PANEL * cols;
            for (int k = 0; k < cols; k++) {
                for (int j = 0; j < 8; j++) {
                    int lo = Float.floatToFloat16(panels[base + k * PANEL + j]) & 0xFFFF;
                    int hi = Float.floatToFloat16(panels[base + k * PANEL + j + 8]) & 0xFFFF;
                    halves[base / 2 + k * 8 + j] = lo | hi << 16;
                }
            }
        }
        return new PackedLinear(null, halves, b, rows, cols, activation, team, threads);
    }

    /** Whether the weights are kept as halves. */
    boolean halfPrecision() {
        return halves != null;
    }

    @Override
    public int inputs() {
        return cols;
    }

    @Override
    public int outputs() {
        return rows;
    }

    @Override
    public void apply(float[] x, float[] out, int batch) {
        if (batch < 1 || (long) batch * cols > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("linear layer " + rows + "×" + cols + " with batch " + batch + " needs "
                    + (long) batch * cols + " inputs and " + (long) batch * rows + " outputs, got " + x.length
                    + " and " + out.length);
        }
        int most = Math.max(6, BLOCK_BYTES / Float.BYTES / cols / 6 * 6);
        int blocks = (batch + most - 1) / most;
        int blockSize = (batch + blocks - 1) / blocks;
        long work = (long) batch * rows * cols;
        int groups = 1;
        if (team != null && work >= PARALLEL_THRESHOLD) {
            // Several chunks per thread, so that a late or busy thread does not hold the others up.
            int wanted = (threads * 4 + blocks - 1) / blocks;
            groups = Math.min(panelCount, wanted);
        }
        int perGroup = (panelCount + groups - 1) / groups;
        int groupCount = (panelCount + perGroup - 1) / perGroup;
        int chunks = blocks * groupCount;
        if (chunks == 1 || team == null) {
            for (int c = 0; c < chunks; c++) {
                chunk(x, out, batch, blockSize, perGroup, groupCount, c);
            }
        } else {
            team.run(chunks, c -> chunk(x, out, batch, blockSize, perGroup, groupCount, c));
        }
    }

    private void chunk(float[] x, float[] out, int batch, int block, int perGroup, int groupCount, int c) {
        int t0 = c / groupCount * block;
        int t1 = Math.min(batch, t0 + block);
        int p0 = c % groupCount * perGroup;
        int p1 = Math.min(panelCount, p0 + perGroup);
        // Few activation rows: half tiles widen the weights in registers. Many: widen a panel once into a
        // per-thread buffer and run the float tiles over all of them.
        boolean direct = halves != null && t1 - t0 <= HALF_TILE_ROWS;
        float[] w = panels;
        float[] buffer = null;
        if (halves != null && !direct) {
            buffer = WIDENED.get();
            if (buffer.length < PANEL * cols) {
                buffer = new float[PANEL * cols];
                WIDENED.set(buffer);
            }
        }
        for (int p = p0; p < p1; p++) {
            int r0 = p * PANEL;
            int width = Math.min(PANEL, rows - r0);
            int at = r0 * cols;
            if (buffer != null) {
                PackedKernels.halvesToFloats(halves, at / 2, cols, buffer);
                w = buffer;
                at = 0;
            }
            // The padded last panel goes to a scratch block first, then its real rows out.
            float[] target = width == PANEL ? out : new float[(t1 - t0) * PANEL];
            int o = width == PANEL ? r0 : -t0 * PANEL;
            int stride = width == PANEL ? rows : PANEL;
            if (direct) {
                PackedKernels.halfTiles(halves, at / 2, cols, x, t0, t1, bias, r0, target, o, stride);
            } else {
                PackedKernels.tiles(w, at, cols, x, t0, t1, bias, r0, target, o, stride);
            }
            if (width < PANEL) {
                for (int t = t0; t < t1; t++) {
                    System.arraycopy(target, (t - t0) * PANEL, out, t * rows + r0, width);
                }
            }
        }
        if (activation == Activation.GELU_ERF) {
            int r0 = p0 * PANEL;
            int r1 = Math.min(rows, p1 * PANEL);
            for (int t = t0; t < t1; t++) {
                CpuOps.geluErf(out, t * rows + r0, r1 - r0);
            }
        }
    }

    @Override
    public String toString() {
        return "PackedLinear[" + rows + "×" + cols + ", " + activation + "]";
    }
}
