package dev.isthmus.quant;

import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.QuantizedActivations;

/**
 * How llama.cpp's CPU backend rounds activations before multiplying them with quantized weights (the
 * weight type's {@code vec_dot_type}), as quantize-then-dequantize in float.
 *
 * <p>Q8_0 and Q8_1 blocks come from the AVX2 encoders ({@code quantize_row_q8_0}/{@code _q8_1}: scale
 * 127/amax, round-to-nearest-even; the values are the same for both, Q8_1 only adds a block sum), Q8_K
 * blocks from the reference encoder, which the x86 build uses unchanged (scale −127/max, float scale
 * kept in full precision).
 */
final class ActivationRounding {
    private ActivationRounding() {
    }

    /** Rounds through 32-element Q8_0/Q8_1 blocks. */
    static void q8_0(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count; b += 32) {
            float amax = 0f;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(src[srcOffset + b + j]));
            }
            float d = Half.f16ToFloat(Half.floatToF16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) {
                dst[dstOffset + b + j] = d * (float) Math.rint(src[srcOffset + b + j] * id);
            }
        }
    }

    /** Rounds through 256-element Q8_K blocks ({@code quantize_row_q8_K_ref}). */
    static void q8_K(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count; b += 256) {
            float max = 0;
            float amax = 0;
            for (int j = 0; j < 256; j++) {
                float ax = Math.abs(src[srcOffset + b + j]);
                if (ax > amax) {
                    amax = ax;
                    max = src[srcOffset + b + j];
                }
            }
            if (amax == 0) {
                java.util.Arrays.fill(dst, dstOffset + b, dstOffset + b + 256, 0f);
                continue;
            }
            float iscale = -127f / max;
            float d = 1 / iscale;
            for (int j = 0; j < 256; j++) {
                int q = Math.min(127, KQuantMath.nearestInt(iscale * src[srcOffset + b + j]));
                dst[dstOffset + b + j] = d * q;
            }
        }
    }

    /**
     * Quantizes into 256-element Q8_K blocks ({@code quantize_row_q8_K_ref}), one float scale per block, laid
     * out for the k-quant integer kernels: within every 32 levels the 16 even-numbered elements come first,
     * then the odd ones ({@link QuantizedActivations#evenOddIndex}). Each block has {@link #SUMS_PER_BLOCK}
     * sums: those of every 16 levels (ggml's {@code bsums}), the 8 even-numbered first, then the 8 odd ones
     * ({@link #q8_KSumIndex}), then the sums of every 32 levels (at {@link #SUMS_OF_32}).
     */
    static void q8_K(float[] src, int srcOffset, int count, QuantizedActivations dst) {
        dst.reset(count, count / 256, count / 256 * SUMS_PER_BLOCK);
        short[] levels = dst.levels();
        float[] scales = dst.scales();
        int[] sums = dst.sums();
        for (int b = 0; b < count; b += 256) {
            float max = 0;
            float amax = 0;
            for (int j = 0; j < 256; j++) {
                float ax = Math.abs(src[srcOffset + b + j]);
                if (ax > amax) {
                    amax = ax;
                    max = src[srcOffset + b + j];
                }
            }
            int sumBase = b / 256 * SUMS_PER_BLOCK;
            if (amax == 0) {
                java.util.Arrays.fill(levels, b, b + 256, (short) 0);
                java.util.Arrays.fill(sums, sumBase, sumBase + SUMS_PER_BLOCK, 0);
                scales[b / 256] = 0f;
                continue;
            }
            float iscale = -127f / max;
            scales[b / 256] = 1 / iscale;
            for (int g = 0; g < 16; g++) {
                int sum = 0;
                for (int j = b + 16 * g; j < b + 16 * g + 16; j++) {
                    int q = Math.min(127, KQuantMath.nearestInt(iscale * src[srcOffset + j]));
                    levels[QuantizedActivations.evenOddIndex(j)] = (short) q;
                    sum += q;
                }
                sums[sumBase + q8_KSumIndex(g)] = sum;
            }
            for (int j = 0; j < 8; j++) {
                sums[sumBase + SUMS_OF_32 + j] = sums[sumBase + q8_KSumIndex(2 * j)] + sums[sumBase + q8_KSumIndex(2 * j + 1)];
            }
        }
    }

    /** Sums per Q8_K block: 16 of 16 levels, 8 of 32. */
    static final int SUMS_PER_BLOCK = 24;
    /** Where a block's sums of 32 levels start. */
    static final int SUMS_OF_32 = 16;

    /** Where, within its block's sums, {@link #q8_K} stores the sum of the block's {@code g}-th 16 levels. */
    static int q8_KSumIndex(int g) {
        return (g >> 1) + ((g & 1) << 3);
    }
}
