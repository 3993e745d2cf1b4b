package dev.isthmus.quant;

import dev.isthmus.core.tensor.Half;

/**
 * ggml's {@code quantize_row_iq4_nl_impl} without an importance matrix: per 32-weight block, the scale
 * that best fits the non-linear grid over {@code 2·ntry+1} candidates; for IQ4_XS the block scales are
 * then quantized to 6 bits against the super-block's largest. Levels and scales come back in fields.
 */
final class Iq4Encoder {
    /** The tries llama.cpp's quantizer uses ({@code ggml_quantize_chunk} passes 7). */
    static final int NTRY = 7;

    final float[] scales;
    final byte[] levels;
    final float[] weight = new float[32];
    short dh;
    int scalesH;
    final byte[] scalesL;

    Iq4Encoder(int superBlockSize) {
        scales = new float[superBlockSize / 32];
        levels = new byte[superBlockSize];
        scalesL = new byte[Math.max(1, superBlockSize / 64)];
    }

    void encode(float[] x, int xo, int superBlockSize, int ntry) {
        byte[] values = KQuantMath.IQ4NL_VALUES;
        dh = Half.floatToF16(0.f);
        float maxScale = 0;
        float amaxScale = 0;
        int nb = superBlockSize / 32;
        for (int ib = 0; ib < nb; ++ib) {
            int xb = xo + ib * 32;
            int lb = ib * 32;
            for (int j = 0; j < 32; ++j) {
                weight[j] = x[xb + j] * x[xb + j];
            }
            float amax = 0;
            float max = 0;
            for (int j = 0; j < 32; ++j) {
                float ax = Math.abs(x[xb + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xb + j];
                }
            }
            if (amax < KQuantMath.GROUP_MAX_EPS) {
                scales[ib] = 0;
                continue;
            }
            float d = ntry > 0 ? -max / values[0] : max / values[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                float al = id * x[xb + j];
                int l = KQuantMath.bestIndexInt8(values, al);
                levels[lb + j] = (byte) l;
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; ++itry) {
                id = (itry + values[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; ++j) {
                    float al = id * x[xb + j];
                    int l = KQuantMath.bestIndexInt8(values, al);
                    float q = values[l];
                    float w = weight[j];
                    sumqx += w * q * x[xb + j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }
        if (nb > 1) {
            scalesH = 0;
            float d = -maxScale / 32;
            dh = Half.floatToF16(d);
            float id = d != 0 ? 1 / d : 0.f;
            for (int ib = 0; ib < nb; ++ib) {
                int l = KQuantMath.nearestInt(id * scales[ib]);
                l = Math.max(-32, Math.min(31, l));
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0.f;
                for (int j = 0; j < 32; ++j) {
                    levels[ib * 32 + j] = (byte) KQuantMath.bestIndexInt8(values, idl * x[xo + ib * 32 + j]);
                }
                l += 32;
                int low = l & 0xF;
                int high = l >> 4;
                if (ib % 2 == 0) {
                    scalesL[ib / 2] = (byte) low;
                } else {
                    scalesL[ib / 2] |= (byte) (low << 4);
                }
                scalesH |= high << (2 * (ib % 8));
            }
        } else {
            dh = Half.floatToF16(scales[0]);
            if (ntry > 0) {
                float id = scales[0] != 0 ? 1 / scales[0] : 0;
                for (int j = 0; j < superBlockSize; ++j) {
                    levels[j] = (byte) KQuantMath.bestIndexInt8(values, id * x[xo + j]);
                }
            }
        }
    }

    /** Byte i of the packed levels: level 32(i/16) + i%16 in the low nibble, +16 in the high nibble. */
    byte packed(int i) {
        int block = i / 16;
        int j = i % 16;
        return (byte) (levels[32 * block + j] | (levels[32 * block + 16 + j] << 4));
    }
}
