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
    short dh;
    int scalesH;
    final byte[] scalesL;
    private final KQuantLanes lanes = new KQuantLanes(32);
    /** Where the one-by-one searches put their first fit's levels when nothing keeps them. */
    private final byte[] unusedLevels = new byte[32];

    /** An encoder of super-blocks of {@code superBlockSize} (32 for IQ4_NL's single blocks, 256 for IQ4_XS). */
    Iq4Encoder(int superBlockSize) {
        scales = new float[Math.max(KQuantLanes.LANES, superBlockSize / 32)];
        levels = new byte[superBlockSize];
        scalesL = new byte[Math.max(1, superBlockSize / 64)];
    }

    /**
     * Each 32-weight block's best scale, {@code scales[0..nb)} for the {@code nb} blocks from {@code x[xo]}: eight
     * at a time in vector lanes ({@link KQuantLanes#iq4Scales}), the rest one by one. With {@code ntry} 0 a lone
     * block keeps its first fit's levels (in {@link #levels}), so those searches run one by one.
     */
    void searchScales(float[] x, int xo, int nb, int ntry) {
        int ib = 0;
        for (; ntry > 0 && ib + KQuantLanes.LANES <= nb; ib += KQuantLanes.LANES) {
            lanes.iq4Scales(x, xo + 32 * ib, scales, ib, ntry);
        }
        for (; ib < nb; ib++) {
            scales[ib] = blockScale(x, xo + 32 * ib, ntry, nb == 1 ? levels : unusedLevels);
        }
    }

    /**
     * One block's search, as ggml runs it: the scale putting the largest magnitude on the grid's end, then
     * {@code 2·ntry+1} others, the x²-weighted least-squares fit of each kept where it fits better; 0 for a
     * block below ggml's threshold. The first fit's levels go to {@code firstLevels[0..32)}: what a lone block
     * keeps when {@code ntry} is 0.
     */
    static float blockScale(float[] x, int xb, int ntry, byte[] firstLevels) {
        byte[] values = KQuantMath.IQ4NL_VALUES;
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
            return 0;
        }
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0;
        float sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
            float al = id * x[xb + j];
            int l = KQuantMath.bestIndexInt8(values, al);
            firstLevels[j] = (byte) l;
            float q = values[l];
            float w = x[xb + j] * x[xb + j];
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
                float w = x[xb + j] * x[xb + j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    void encode(float[] x, int xo, int superBlockSize, int ntry) {
        dh = Half.floatToF16(0.f);
        int nb = superBlockSize / 32;
        searchScales(x, xo, nb, ntry);
        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < nb; ++ib) {
            float absD = Math.abs(scales[ib]);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = scales[ib];
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
                lanes.iq4Levels(x, xo + ib * 32, idl, levels, ib * 32, 32);
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
            finishBlock(x, xo, 0, ntry);
        }
    }

    /**
     * A lone block's F16 scale ({@link #dh}) and its levels against the scale the last {@link #searchScales} found
     * for block {@code ib} (with {@code ntry} 0, the first fit's levels stay).
     */
    void finishBlock(float[] x, int xb, int ib, int ntry) {
        dh = Half.floatToF16(scales[ib]);
        if (ntry > 0) {
            float id = scales[ib] != 0 ? 1 / scales[ib] : 0;
            lanes.iq4Levels(x, xb, id, levels, 0, 32);
        }
    }

    /** Byte i of the packed levels: level 32(i/16) + i%16 in the low nibble, +16 in the high nibble. */
    byte packed(int i) {
        int block = i / 16;
        int j = i % 16;
        return (byte) (levels[32 * block + j] | (levels[32 * block + 16 + j] << 4));
    }
}
