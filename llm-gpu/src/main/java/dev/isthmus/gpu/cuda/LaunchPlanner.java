package dev.isthmus.gpu.cuda;

import dev.isthmus.core.tensor.GgmlType;
import java.util.Locale;

/**
 * Chooses the kernel and launch shape for each operation. Pure arithmetic, so it is tested without a GPU;
 * the constants mirror kernels.cu (decode: 32-128 threads per weight row; prefill: tiles of 32 rows x 64 tokens).
 *
 * <pre>{@code
 * LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q4_K, 4096, 4096, 1);
 * // l.kernel() = "matvec_q4_k", l.config() = 4096 blocks of 128 threads (one row each)
 * }</pre>
 */
public final class LaunchPlanner {
    static final int WARP = 32;
    /** Weight rows per block of the prefill kernels ({@code matmul_*}, MM_ROWS in kernels.cu). */
    static final int TILE_ROWS = 32;
    /** Tokens per block of the prefill kernels (MM_TOKENS in kernels.cu). */
    static final int TILE_TOKENS = 64;
    /** Threads per block of the prefill kernels (MM_THREADS in kernels.cu, a 4 x 4 sub-tile each). */
    static final int TILE_THREADS = 128;
    /** Threads per block of the decode kernels ({@code matvec_*}): one or more rows. */
    static final int ROW_VECTOR_THREADS = 128;
    /**
     * Quads (4-element groups, see dequant.cuh) a decode thread should have at most, if threads allow. Measured
     * on an H200 (0.5 B model): a warp per 896-column row (7 quads a thread) took 10.2 us per product where
     * 128 threads a row took 7.3, so rows get threads until each holds about two quads. A thread per whole
     * 32-element block measured slower again (11.4 against 8.3 us: neighbouring threads 18 bytes apart).
     */
    static final int QUADS_PER_THREAD = 2;
    /** Prefill blocks wanted per multiprocessor: several, so one block's loads overlap another's arithmetic. */
    static final int BLOCKS_PER_MULTIPROCESSOR = 4;
    /** Fewest 32-column items a split of a prefill product covers, so splitting does not outweigh its gain. */
    static final int MIN_SPLIT_ITEMS = 4;
    /** Most column ranges a prefill product is split into. */
    static final int MAX_SPLITS = 16;
    /** Threads per block of the row-wise kernels (norm, softmax, attention). */
    static final int ROW_THREADS = 256;
    /**
     * Threads per block of the norms (rms_norm_round, layer_norm_round): a decode step's row is a single block,
     * so it takes as many threads as a block holds, each with fewer elements to wait for.
     */
    static final int NORM_THREADS = 1024;
    /** Threads per block of the attention kernel (at most ATT_MAX_WARPS warps in kernels.cu). */
    static final int ATTENTION_THREADS = 512;
    /** Threads per block of element-wise kernels. */
    static final int ELEMENT_THREADS = 256;

    private LaunchPlanner() {
    }

    /** A kernel name and how to launch it. */
    public record Launch(String kernel, LaunchConfig config) {
    }

    /**
     * The multiplication of a {@code rows x cols} weight matrix of {@code type} (one the device multiplies:
     * see {@link DeviceFormat#isNative}) with {@code batch} activation vectors, unsplit: {@link #matVec} for
     * one vector, else {@link #mulMatSplit}.
     */
    public static Launch mulMat(GgmlType type, int rows, int cols, int batch) {
        return batch == 1 ? matVec(type, rows, cols) : mulMatSplit(type, rows, batch, 1);
    }

    /**
     * The decode product of a {@code rows x cols} matrix with one vector: {@link #threadsPerRow} threads a
     * row (the kernel's last argument), as many rows as fill a block.
     */
    public static Launch matVec(GgmlType type, int rows, int cols) {
        String suffix = kernelSuffix(type);
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("matvec needs rows and cols >= 1, got " + rows + " and " + cols);
        }
        int rowsPerBlock = ROW_VECTOR_THREADS / threadsPerRow(cols);
        return new Launch("matvec_" + suffix, new LaunchConfig(ceilDiv(rows, rowsPerBlock), 1, ROW_VECTOR_THREADS, 0));
    }

    /** Most matrices one {@code matvecs_*} launch multiplies (w0..w2 in kernels.cu). */
    static final int MAX_MATVECS = 3;

    /**
     * The decode products of up to {@link #MAX_MATVECS} matrices of one format and width with the same vector
     * in one launch ({@code matvecs_*}): their {@code totalRows} rows follow one another, shaped as
     * {@link #matVec}'s.
     */
    public static Launch matVecs(GgmlType type, int totalRows, int cols) {
        Launch one = matVec(type, totalRows, cols);
        return new Launch(one.kernel().replace("matvec_", "matvecs_"), one.config());
    }

    /**
     * Whether the device multiplies {@code type} rows with activations rounded to 8-bit blocks (Q8_0 for
     * the 32-element formats, Q8_K for the k-quants) held as integers ({@code matvec_q8x_*}: dp4a on the levels, see
     * row_dot_q8x in kernels.cu).
     */
    public static boolean hasIntegerProduct(GgmlType type) {
        return switch (type) {
            case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * The integer decode product of a {@code rows x cols} {@code type} matrix ({@link #hasIntegerProduct}) with
     * one integer activation vector, or of up to {@link #MAX_MATVECS} matrices of {@code rows} rows in all
     * ({@code together}): kernel arguments as {@link #matVec}'s, or {@link #matVecs}'s, with
     * {@link #integerThreadsPerRow} threads a row.
     */
    public static Launch matVecInts(GgmlType type, int rows, int cols, boolean together) {
        if (!hasIntegerProduct(type)) {
            throw new IllegalArgumentException("no integer product for " + type);
        }
        if (rows < 1 || cols < 1 || cols % WARP != 0) {
            throw new IllegalArgumentException("integer matvec needs rows >= 1 and whole 32-column blocks, got "
                    + rows + " x " + cols);
        }
        int rowsPerBlock = ROW_VECTOR_THREADS / integerThreadsPerRow(type, cols);
        String kernel = (together ? "matvecs_q8x_" : "matvec_q8x_") + kernelSuffix(type);
        return new Launch(kernel, new LaunchConfig(ceilDiv(rows, rowsPerBlock), 1, ROW_VECTOR_THREADS, 0));
    }

    /**
     * Threads per row of the integer decode products: a thread per 8-byte unit of levels (the 4- and 5-bit
     * 32-element formats have two a block, Q8_0 four, the k-quants sixteen a super-block), from a warp up to {@link #ROW_VECTOR_THREADS}, as
     * latency, not arithmetic, bounds them.
     */
    public static int integerThreadsPerRow(GgmlType type, int cols) {
        long units = switch (type) {
            case Q8_0 -> 4L * (cols / WARP);
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> 16L * (cols / 256);
            default -> 2L * (cols / WARP);
        };
        int threads = WARP;
        while (threads < ROW_VECTOR_THREADS && units > threads) {
            threads *= 2;
        }
        return threads;
    }

    /**
     * Bytes of a row of {@code n} activations held as integers (Q8_0 or Q8_K): levels, then block scales (room
     * for one per 32).
     */
    public static long integerActivationBytes(int n) {
        return ((n + 15L) & ~15L) + 4L * Math.ceilDiv(n, WARP);
    }

    /**
     * Threads per weight row of the decode kernels: a warp, two or four, the fewest that leave each at most
     * {@link #QUADS_PER_THREAD} quads of the row; short rows share a block, so that small models still fill it.
     */
    public static int threadsPerRow(int cols) {
        long quads = 8L * Math.ceilDiv(cols, WARP);
        int threads = WARP;
        while (threads < ROW_VECTOR_THREADS && quads > (long) threads * QUADS_PER_THREAD) {
            threads *= 2;
        }
        return threads;
    }

    private static String kernelSuffix(GgmlType type) {
        if (!DeviceFormat.isNative(type)) {
            throw new IllegalArgumentException("no CUDA kernel multiplies " + type + "; convert it with DeviceFormat first");
        }
        return type.name().toLowerCase(Locale.ROOT);
    }

    /**
     * In how many column ranges to split a prefill product (see mat_mul in kernels.cu) so that it makes
     * {@link #BLOCKS_PER_MULTIPROCESSOR} blocks per multiprocessor: small matrices make too few tiles. Each
     * range covers at least {@link #MIN_SPLIT_ITEMS} items, and the partial sums of ranges after the first
     * must fit {@code partialFloats}. Decode ({@code batch == 1}) is never split.
     */
    public static int splits(int rows, int cols, int batch, int multiprocessors, long partialFloats) {
        if (batch == 1) {
            return 1;
        }
        long tiles = (long) ceilDiv(rows, TILE_ROWS) * ceilDiv(batch, TILE_TOKENS);
        long wanted = Math.ceilDiv((long) BLOCKS_PER_MULTIPROCESSOR * multiprocessors, tiles);
        long byItems = Math.ceilDiv(cols, WARP) / MIN_SPLIT_ITEMS;
        long byScratch = 1 + partialFloats / ((long) batch * rows);
        long splits = Math.min(Math.min(wanted, byItems), Math.min(byScratch, MAX_SPLITS));
        return (int) Math.max(1, splits);
    }

    /**
     * The prefill product of a {@code rows}-row matrix with {@code batch > 1} vectors, split in
     * {@code splits} column ranges (see {@link #splits}).
     */
    public static Launch mulMatSplit(GgmlType type, int rows, int batch, int splits) {
        String suffix = kernelSuffix(type);
        if (rows < 1 || batch < 2) {
            throw new IllegalArgumentException("matmul needs rows >= 1 and batch >= 2 (one vector: matVec), got "
                    + rows + " and " + batch);
        }
        if (splits < 1) {
            throw new IllegalArgumentException(splits + " splits for a batch of " + batch);
        }
        long gridY = (long) ceilDiv(batch, TILE_TOKENS) * splits;
        if (gridY > LaunchConfig.MAX_GRID_Y) {
            throw new IllegalArgumentException("batch " + batch + " in " + splits + " splits needs " + gridY
                    + " tiles; at most " + LaunchConfig.MAX_GRID_Y + " fit a grid (split the batch)");
        }
        return new Launch("matmul_" + suffix,
                new LaunchConfig(ceilDiv(rows, TILE_ROWS), (int) gridY, TILE_THREADS, 0));
    }

    /**
     * The arguments of a weight product's kernel ({@link #matVec} or {@link #mulMatSplit}), in kernels.cu's
     * order: weights, row bytes, activations, results, rows, cols, then {@link #threadsPerRow} for one vector,
     * else the batch, the {@code splits} and the partial sums of splits after the first ({@code partial}, unused
     * when {@code splits} is 1).
     */
    static KernelArgs productArgs(long weights, long rowBytes, long x, long y, int rows, int cols, int batch,
                                  int splits, long partial) {
        KernelArgs args = new KernelArgs().pointer(weights).i64(rowBytes).pointer(x).pointer(y).i32(rows).i32(cols);
        if (batch == 1) {
            return args.i32(threadsPerRow(cols));
        }
        return args.i32(batch).i32(splits).pointer(partial);
    }

    /** A norm (rms_norm_round, layer_norm_round) over {@code rows} rows: one block per row. */
    public static LaunchConfig norm(int rows) {
        return new LaunchConfig(rows, 1, NORM_THREADS, 0);
    }

    /** A row-wise kernel (softmax_rows) over {@code rows} rows: one block per row. */
    public static LaunchConfig rowwise(int rows) {
        return new LaunchConfig(rows, 1, ROW_THREADS, 0);
    }

    /** An element-wise kernel (gelu, add, add_bias) over {@code n} elements. */
    public static LaunchConfig elementwise(int n) {
        return new LaunchConfig(ceilDiv(n, ELEMENT_THREADS), 1, ELEMENT_THREADS, 0);
    }

    /**
     * qkv_rope over {@code tokens} tokens: one thread per pair of elements of every query, key and value head,
     * one grid row per token.
     */
    public static LaunchConfig qkvRope(int heads, int kvHeads, int headDim, int tokens) {
        long threads = (long) (heads + 2 * kvHeads) * ((headDim + 1) / 2);
        return new LaunchConfig(ceilDiv(Math.toIntExact(threads), ELEMENT_THREADS), tokens, ELEMENT_THREADS, 0);
    }

    /**
     * silu_mul_round over {@code n} elements rounded as {@code r}: one warp per block of {@code r} (32 elements
     * for the element-wise roundings), {@link DeviceRounding#elementsPerThread} elements a thread.
     */
    public static LaunchConfig siluMulRound(DeviceRounding r, int n) {
        if (n % r.block() != 0) {
            throw new IllegalArgumentException(n + " activations are not whole " + r + " blocks of " + r.block());
        }
        return elementwise(Math.ceilDiv(n, r.elementsPerThread()));
    }

    /** attention: one block per query head and query token. */
    public static LaunchConfig attention(int heads, int queries) {
        return new LaunchConfig(heads, queries, ATTENTION_THREADS, 0);
    }

    /** An activation-rounding kernel over {@code n} floats (see {@link DeviceRounding#elementsPerThread}). */
    public static Launch rounding(DeviceRounding r, int n) {
        if (r == DeviceRounding.NONE) {
            throw new IllegalArgumentException("no kernel rounds activations for " + r);
        }
        if (n % r.block() != 0) {
            throw new IllegalArgumentException(n + " activations are not whole " + r + " blocks of " + r.block());
        }
        return new Launch(r.kernel(), elementwise(n / r.elementsPerThread()));
    }

    static int ceilDiv(int a, int b) {
        return Math.ceilDiv(a, b);
    }
}
