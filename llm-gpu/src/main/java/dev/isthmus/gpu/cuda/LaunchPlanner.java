package dev.isthmus.gpu.cuda;

import dev.isthmus.core.tensor.GgmlType;
import java.util.Locale;

/**
 * Chooses the kernel and launch shape for each operation. Pure arithmetic, so it is tested without a GPU;
 * the constants mirror kernels.cu (one warp per weight row, 8 tokens per prefill tile).
 *
 * <pre>{@code
 * LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q4_K, 4096, 1);
 * // l.kernel() = "matvec_q4_k", l.config() = 1024 blocks of 128 threads
 * }</pre>
 */
public final class LaunchPlanner {
    static final int WARP = 32;
    /** Warps (= weight rows) per block of the matmul kernels. */
    static final int ROWS_PER_BLOCK = 4;
    /** Tokens per block of the prefill kernels ({@code matmul_*}, NT in kernels.cu). */
    static final int TOKENS_PER_TILE = 8;
    /** Threads per block of the row-wise kernels (norm, softmax, attention). */
    static final int ROW_THREADS = 256;
    /** Threads per block of element-wise kernels. */
    static final int ELEMENT_THREADS = 256;

    private LaunchPlanner() {
    }

    /** A kernel name and how to launch it. */
    public record Launch(String kernel, LaunchConfig config) {
    }

    /**
     * The multiplication of a {@code rows}-row weight matrix of {@code type} (one the device multiplies:
     * see {@link DeviceFormat#isNative}) with {@code batch} activation vectors.
     */
    public static Launch mulMat(GgmlType type, int rows, int batch) {
        if (!DeviceFormat.isNative(type)) {
            throw new IllegalArgumentException("no CUDA kernel multiplies " + type + "; convert it with DeviceFormat first");
        }
        if (rows < 1 || batch < 1) {
            throw new IllegalArgumentException("matmul needs rows and batch >= 1, got " + rows + " and " + batch);
        }
        String suffix = type.name().toLowerCase(Locale.ROOT);
        int gridX = ceilDiv(rows, ROWS_PER_BLOCK);
        if (batch == 1) {
            return new Launch("matvec_" + suffix, new LaunchConfig(gridX, 1, ROWS_PER_BLOCK * WARP, 0));
        }
        int tiles = ceilDiv(batch, TOKENS_PER_TILE);
        if (tiles > LaunchConfig.MAX_GRID_Y) {
            throw new IllegalArgumentException("batch " + batch + " needs " + tiles + " tiles; at most "
                    + LaunchConfig.MAX_GRID_Y + " fit a grid (split the batch)");
        }
        return new Launch("matmul_" + suffix, new LaunchConfig(gridX, tiles, ROWS_PER_BLOCK * WARP, 0));
    }

    /** A row-wise kernel (rms_norm, softmax_rows) over {@code rows} rows: one block per row. */
    public static LaunchConfig rowwise(int rows) {
        return new LaunchConfig(rows, 1, ROW_THREADS, 0);
    }

    /** An element-wise kernel (silu_mul, gelu, add) over {@code n} elements. */
    public static LaunchConfig elementwise(int n) {
        return new LaunchConfig(ceilDiv(n, ELEMENT_THREADS), 1, ELEMENT_THREADS, 0);
    }

    /** The rope kernel over {@code tokens} tokens: one thread per rotated pair, one grid row per token. */
    public static LaunchConfig rope(int heads, int dims, int tokens) {
        return new LaunchConfig(ceilDiv(heads * (dims / 2), ELEMENT_THREADS), tokens, ELEMENT_THREADS, 0);
    }

    /** attention: one block per query head and query token. */
    public static LaunchConfig attention(int heads, int queries) {
        return new LaunchConfig(heads, queries, ROW_THREADS, 0);
    }

    /** An activation-rounding kernel over {@code n} floats: one thread per element or per block it rounds. */
    public static Launch rounding(DeviceRounding r, int n) {
        if (r == DeviceRounding.NONE) {
            throw new IllegalArgumentException("no kernel rounds activations for " + r);
        }
        if (n % r.block() != 0) {
            throw new IllegalArgumentException(n + " activations are not whole " + r + " blocks of " + r.block());
        }
        return new Launch(r.kernel(), elementwise(n / r.block()));
    }

    static int ceilDiv(int a, int b) {
        return Math.ceilDiv(a, b);
    }
}
