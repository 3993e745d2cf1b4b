package dev.isthmus.quant;

import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

/**
 * What the k-quant integer kernels share: the loop over super-blocks, the (scale, min) unpacking and the
 * minimums' four FMA chains, as llama.cpp's AVX2 kernels compute them. Each format supplies the vector work of
 * one super-block.
 */
final class KQuantIntegers {
    private static final int QK = 256;

    private KQuantIntegers() {
    }

    /**
     * One super-block: its scaled integer sums FMA'd into {@code acc[0..8)}, its minimums (if the format has
     * them) in llama.cpp's order for the format: Q4_K's four chains in {@code acc[8..12)} ({@link #addMinimums}),
     * Q5_K's one in {@code acc[8]}, Q2_K's FMA'd into {@code acc[0..8)} before the sums. A method of its own so C2 can compile every Vector API call
     * in it as an intrinsic; the accumulators pass through memory because vectors crossing a call that is not
     * inlined would be boxed.
     */
    interface SuperBlock {
        void accumulate(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32, float dx,
                        float[] acc);
    }

    /** The dot product of one row of {@code blockBytes}-byte super-blocks with Q8_K activations. */
    static float dot(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count, int blockBytes,
                     SuperBlock superBlock) {
        // Lanes 0-7: the scaled sums (and Q2_K's minimums); 8-11: the minimums' chains of Q4_K (four) and Q5_K (one).
        float[] acc = new float[12];
        short[] levels = x.levels();
        float[] xScales = x.scales();
        int[] xSums = x.sums();
        for (int b = 0; b < count / QK; b++) {
            int xb = xOffset + b * QK;
            superBlock.accumulate(data, offset + (long) b * blockBytes, levels, xb, xSums,
                    xb / QK * ActivationRounding.SUMS_PER_BLOCK + ActivationRounding.SUMS_OF_32, xScales[xb / QK], acc);
        }
        return IntLanes.sumLanes(FloatVector.fromArray(IntLanes.F, acc, 0)) + ((acc[8] + acc[10]) + (acc[9] + acc[11]));
    }

    /**
     * For run j (32 elements) of a half super-block whose eight 16-element sub-block scales sit one per int
     * lane: its two scales, 2j over lanes 0-3 and 2j+1 over lanes 4-7 (the lanes that sum its first and second
     * 16 elements once 16-bit pair products are added in halves).
     */
    static final VectorShuffle<Integer>[] RUN_SCALES = runScales();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Integer>[] runScales() {
        VectorShuffle<Integer>[] shuffles = new VectorShuffle[4];
        for (int k = 0; k < 4; k++) {
            int a = 2 * k;
            shuffles[k] = VectorShuffle.fromValues(IntLanes.I, a, a, a, a, a + 1, a + 1, a + 1, a + 1);
        }
        return shuffles;
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
