package dev.isthmus.quant;

import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;

/**
 * Scalar parts of the Q4_K/Q5_K integer kernels: the (scale, min) unpacking and the minimums' four FMA
 * chains, as llama.cpp's AVX2 kernels compute them.
 */
final class KQuantIntegers {
    private KQuantIntegers() {
    }

    /** The eight 6-bit sub-block scales of the 12 bytes at {@code at}, one per byte of the result (ggml's utmp). */
    static long scales(MemorySegment data, long at) {
        int u0 = data.get(ValueLayouts.I32, at);
        int u2 = data.get(ValueLayouts.I32, at + 8);
        return (u0 & 0x3F3F3F3FL) | (long) ((u2 & 0x0F0F0F0F) | (((u0 >>> 6) & 0x03030303) << 4)) << 32;
    }

    /** The eight 6-bit sub-block minimums, one per byte of the result. */
    static long mins(MemorySegment data, long at) {
        int u1 = data.get(ValueLayouts.I32, at + 4);
        int u2 = data.get(ValueLayouts.I32, at + 8);
        return (u1 & 0x3F3F3F3FL) | (long) (((u2 >>> 4) & 0x0F0F0F0F) | (((u1 >>> 6) & 0x03030303) << 4)) << 32;
    }

    /** Byte {@code i} of a packed scale or min word. */
    static int at(long packed, int i) {
        return (int) (packed >>> (8 * i)) & 0xFF;
    }

    /**
     * Adds dmin · (min_{2i}·S_{2i} + min_{2i+1}·S_{2i+1}) to {@code acc[from + i]}, i = 0..3, S_j the activation
     * sum of sub-block j (at {@code xSums[s32 + j]}): llama.cpp's four-lane minimum accumulator.
     */
    static void addMinimums(long mins, int[] xSums, int s32, float dmin, float[] acc, int from) {
        for (int i = 0; i < 4; i++) {
            int j = 2 * i;
            int pair = at(mins, j) * xSums[s32 + j] + at(mins, j + 1) * xSums[s32 + j + 1];
            acc[from + i] = Math.fma(dmin, (float) pair, acc[from + i]);
        }
    }
}
