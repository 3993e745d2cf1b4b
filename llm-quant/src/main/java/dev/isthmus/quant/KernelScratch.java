package dev.isthmus.quant;

import java.util.Arrays;

/**
 * Per-thread arrays through which a group kernel's steps hand each other their sums. Kernels pass vectors
 * through memory rather than as arguments (a vector crossing a call C2 leaves out of line is boxed), and new
 * arrays for that on every call allocated about 18 MB per generated token of a 0.5 B Q4_K_M model, whose
 * collections showed as 100 ms pauses in the middle of timed runs.
 *
 * <pre>{@code
 * KernelScratch scratch = KernelScratch.get();
 * int[] s = scratch.ints(32);
 * float[] acc = scratch.zeroedFloats(16);
 * }</pre>
 */
final class KernelScratch {
    private static final ThreadLocal<KernelScratch> CURRENT = ThreadLocal.withInitial(KernelScratch::new);

    private int[] ints = new int[0];
    private float[] floats = new float[0];
    private short[] shorts = new short[0];

    private KernelScratch() {
    }

    /** This thread's scratch; a kernel must not hold on to its arrays across calls. */
    static KernelScratch get() {
        return CURRENT.get();
    }

    /** At least {@code n} ints, with whatever the last kernel on this thread left in them. */
    int[] ints(int n) {
        if (ints.length < n) {
            ints = new int[n];
        }
        return ints;
    }

    /** At least {@code n} shorts, with whatever the last kernel on this thread left in them. */
    short[] shorts(int n) {
        if (shorts.length < n) {
            shorts = new short[n];
        }
        return shorts;
    }

    /** At least {@code n} floats, the first {@code n} zero. */
    float[] zeroedFloats(int n) {
        if (floats.length < n) {
            floats = new float[n];
        } else {
            Arrays.fill(floats, 0, n, 0f);
        }
        return floats;
    }
}
