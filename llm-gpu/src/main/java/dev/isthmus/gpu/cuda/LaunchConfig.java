package dev.isthmus.gpu.cuda;

/**
 * Grid and block shape of one kernel launch, checked against the limits every CUDA GPU shares.
 *
 * <pre>{@code
 * LaunchConfig c = new LaunchConfig(1024, 1, 128, 0);   // 1024 blocks of 128 threads
 * }</pre>
 *
 * @param gridX       blocks along x (up to 2^31 - 1)
 * @param gridY       blocks along y (up to 65535)
 * @param blockX      threads per block (1..1024)
 * @param sharedBytes dynamic shared memory per block
 */
public record LaunchConfig(int gridX, int gridY, int blockX, int sharedBytes) {
    static final int MAX_GRID_Y = 65535;
    static final int MAX_THREADS = 1024;

    public LaunchConfig {
        if (gridX < 1 || gridY < 1 || gridY > MAX_GRID_Y) {
            throw new IllegalArgumentException("grid " + gridX + " x " + gridY + " is outside 1..2^31-1 x 1.." + MAX_GRID_Y);
        }
        if (blockX < 1 || blockX > MAX_THREADS) {
            throw new IllegalArgumentException("block of " + blockX + " threads is outside 1.." + MAX_THREADS);
        }
        if (sharedBytes < 0) {
            throw new IllegalArgumentException("negative shared memory " + sharedBytes);
        }
    }

    /** Total threads launched. */
    public long threads() {
        return (long) gridX * gridY * blockX;
    }
}
