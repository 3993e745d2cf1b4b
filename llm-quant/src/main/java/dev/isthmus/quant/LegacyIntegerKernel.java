package dev.isthmus.quant;

import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;

/**
 * The integer kernel shared by the 32-weight formats Q4_0, Q4_1, Q5_0 and Q5_1, in the arithmetic of llama.cpp's
 * AVX2 {@code ggml_vec_dot_q4_0_q8_0} / {@code _q4_1_q8_1} / {@code _q5_0_q8_0} / {@code _q5_1_q8_1}: levels in element order (nibbles,
 * plus the fifth bit from {@code qh} where the format has one), less a fixed offset, times the even/odd
 * activation levels; four weights per 32-bit lane; d_w·d_x in one float FMA chain reduced as ggml reduces it;
 * for formats with a minimum, m·s (s: Q8_1's F16 block sum) in a scalar FMA chain added at the end.
 *
 * <pre>{@code
 * // Q5_1: d at 0, m at 2, qh at 4, nibbles at 8, no level offset
 * static final LegacyIntegerKernel Q5_1 = new LegacyIntegerKernel(24, 8, 4, 2, 0);
 * }</pre>
 *
 * @param blockBytes bytes per 32-weight block (the F16 scale d at byte 0)
 * @param nibblesAt  where the 16 nibble bytes start
 * @param fifthBitsAt where the 32-bit {@code qh} word is, or −1
 * @param minAt      where the F16 minimum m is, or −1
 * @param levelOffset subtracted from every level (8 for Q4_0, 16 for Q5_0)
 */
record LegacyIntegerKernel(int blockBytes, int nibblesAt, int fifthBitsAt, int minAt, int levelOffset) {
    private static final int QK = 32;

    float dot(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        short[] levels = x.levels();
        float[] scales = x.scales();
        // With Q8_1 activations the block sums follow the scales (QuantizedActivations#quantizeQ8_1EvenOdd).
        int sums = x.count() / QK;
        FloatVector acc = FloatVector.zero(IntLanes.F);
        float mins = 0f;
        int xBlock = xOffset / QK;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * blockBytes;
            ShortVector level = QuantVectors.nibblesInOrder(data, block + nibblesAt);
            if (fifthBitsAt >= 0) {
                level = level.or(QuantVectors.fifthBits(data.get(ValueLayouts.I32, block + fifthBitsAt)));
            }
            IntVector pairs = QuantVectors.pairSums(level, levelOffset, levels, xOffset + b * QK);
            float d = QuantVectors.f16(data, block) * scales[xBlock + b];
            acc = IntLanes.toFloat(pairs).fma(FloatVector.broadcast(IntLanes.F, d), acc);
            if (minAt >= 0) {
                mins = Math.fma(QuantVectors.f16(data, block + minAt), scales[sums + xBlock + b], mins);
            }
        }
        return IntLanes.sumLanes(acc) + mins;
    }

    /** The scalar oracle of {@link #dot}: exact integer block sums, scaled and added in block order. */
    float dotScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * blockBytes;
            int qh = fifthBitsAt >= 0 ? data.get(ValueLayouts.I32, block + fifthBitsAt) : 0;
            int xo = xOffset + b * QK;
            int dot = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q = QuantVectors.u8(data, block + nibblesAt + j);
                int low = (q & 0x0F) | ((qh >>> j) & 1) << 4;
                int high = (q >> 4) | ((qh >>> (j + 16)) & 1) << 4;
                dot += (low - levelOffset) * x.levels()[QuantizedActivations.evenOddIndex(xo + j)]
                        + (high - levelOffset) * x.levels()[QuantizedActivations.evenOddIndex(xo + j + QK / 2)];
            }
            sum += QuantVectors.f16(data, block) * x.scales()[xOffset / QK + b] * dot;
            if (minAt >= 0) {
                sum += QuantVectors.f16(data, block + minAt) * x.scales()[x.count() / QK + xOffset / QK + b];
            }
        }
        return sum;
    }
}
