package dev.isthmus.quant;

import dev.isthmus.core.tensor.Half;

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
}
