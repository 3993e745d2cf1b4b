package dev.isthmus.quant;

/**
 * The scale searches behind ggml's reference encoders ({@code ggml-quants.c}), reproduced operation
 * for operation in float so that encoded bytes are identical: same evaluation order, no fused
 * multiply-add (ggml's portable build has none), C's rounding and truncation rules.
 */
final class KQuantMath {
    /** ggml's {@code GROUP_MAX_EPS}: groups whose largest magnitude is below this encode as zero. */
    static final float GROUP_MAX_EPS = 1e-15f;
    /** The 16 values of the IQ4_NL/IQ4_XS non-linear grid ({@code kvalues_iq4nl}). */
    static final byte[] IQ4NL_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private KQuantMath() {
    }

    /**
     * ggml's {@code nearest_int}: adds 1.5 × 2^23 so the FPU rounds to nearest-even, then reads the
     * mantissa. Reproduced bit for bit, including what it returns outside ±2^22.
     */
    static int nearestInt(float v) {
        int bits = Float.floatToRawIntBits(v + 12582912f);
        return (bits & 0x007FFFFF) - 0x00400000;
    }

    /** C's float-to-integer conversion (truncation; NaN and overflow give INT_MIN as x86's cvttss2si). */
    static int truncate(float v) {
        if (Float.isNaN(v) || v >= 2147483648f || v < -2147483648f) {
            return Integer.MIN_VALUE;
        }
        return (int) v;
    }

    /** {@code make_qx_quants}: symmetric levels in [0, 2·nmax), weights per rmseType or {@code qw}. */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] levels, int lo, int rmseType, float[] qw,
                              int qwo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                levels[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        if (rmseType == 0) {
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * x[xo + i]);
                levels[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
            }
            return 1 / iscale;
        }
        boolean returnEarly = false;
        if (rmseType < 0) {
            rmseType = -rmseType;
            returnEarly = true;
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            levels[lo + i] = (byte) (l + nmax);
            float w = weight(qw, qwo + i, rmseType, xi);
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) {
            return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        }
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = weight(qw, qwo + i, rmseType, xi);
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[xo + i]);
                    levels[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    private static float weight(float[] qw, int i, int rmseType, float x) {
        if (qw != null) {
            return qw[i];
        }
        return switch (rmseType) {
            case 1 -> x * x;
            case 2 -> 1;
            case 3 -> Math.abs(x);
            default -> (float) Math.sqrt(Math.abs(x));
        };
    }

    /** {@code make_q3_quants}: signed levels in [-nmax, nmax) refined by coordinate descent, then offset by nmax. */
    static float makeQ3Quants(int n, int nmax, float[] x, int xo, byte[] levels, int lo, boolean doRmse) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                levels[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        if (doRmse) {
            float sumlx = 0;
            float suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                levels[lo + i] = (byte) l;
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            for (int itry = 0; itry < 5; ++itry) {
                int changed = 0;
                for (int i = 0; i < n; ++i) {
                    float xi = x[xo + i];
                    float w = xi * xi;
                    int li = levels[lo + i];
                    float slx = sumlx - w * xi * li;
                    if (slx > 0) {
                        float sl2 = suml2 - w * li * li;
                        int newL = nearestInt(xi * sl2 / slx);
                        newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                        if (newL != li) {
                            slx += w * xi * newL;
                            sl2 += w * newL * newL;
                            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                                levels[lo + i] = (byte) newL;
                                sumlx = slx;
                                suml2 = sl2;
                                ++changed;
                            }
                        }
                    }
                }
                if (changed == 0) {
                    break;
                }
            }
            for (int i = 0; i < n; ++i) {
                levels[lo + i] += (byte) nmax;
            }
            return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
        }
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * x[xo + i]);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            levels[lo + i] = (byte) (l + nmax);
        }
        return 1 / iscale;
    }

    /**
     * {@code make_qkx2_quants}: an asymmetric (scale, min) fit over levels [0, nmax] trying
     * {@code nstep+1} candidate scales; returns the scale and stores the (positive) min in {@code minOut[mi]}.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] levels, int lo,
                                float[] minOut, int mi, byte[] aux, float rmin, float rdelta, int nstep,
                                boolean useMad) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; ++i) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; ++i) {
                levels[lo + i] = 0;
            }
            minOut[mi] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            int li = Math.max(0, Math.min(nmax, l));
            levels[lo + i] = (byte) li;
            float diff = scale * li + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            minOut[mi] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * (x[xo + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                aux[i] = (byte) l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * (aux[i] & 0xFF) + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(aux, 0, levels, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        minOut[mi] = -min;
        return scale;
    }

    /** {@code get_scale_min_k4}: the j-th 6-bit (scale, min) pair of a Q4_K/Q5_K 12-byte scale field. */
    static int scaleK4(int j, byte[] q) {
        if (j < 4) {
            return q[j] & 63;
        }
        return (q[j + 4] & 0xF) | (((q[j - 4] & 0xFF) >> 6) << 4);
    }

    /**
     * {@link #scaleK4(int, byte[])} on the 12-byte scale field held as {@code lo} (bytes 0..7,
     * little-endian) and {@code hi} (bytes 8..11): two loads per super-block instead of twelve.
     */
    static int scaleK4(int j, long lo, int hi) {
        if (j < 4) {
            return (int) (lo >>> (8 * j)) & 63;
        }
        return (hi >>> (8 * (j - 4)) & 0xF) | ((int) (lo >>> (8 * (j - 4) + 6)) & 3) << 4;
    }

    /** {@link #minK4(int, byte[])} on the scale field as in {@link #scaleK4(int, long, int)}. */
    static int minK4(int j, long lo, int hi) {
        if (j < 4) {
            return (int) (lo >>> (8 * (j + 4))) & 63;
        }
        return (hi >>> (8 * (j - 4) + 4) & 0xF) | ((int) (lo >>> (8 * j + 6)) & 3) << 4;
    }

    static int minK4(int j, byte[] q) {
        if (j < 4) {
            return q[j + 4] & 63;
        }
        return ((q[j + 4] & 0xFF) >> 4) | (((q[j] & 0xFF) >> 6) << 4);
    }

    /** {@code best_index_int8}: index of the grid value nearest {@code x} (ties to the upper). */
    static int bestIndexInt8(byte[] values, float x) {
        int n = values.length;
        if (x <= values[0]) {
            return 0;
        }
        if (x >= values[n - 1]) {
            return n - 1;
        }
        int ml = 0;
        int mu = n - 1;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < values[mav]) {
                mu = mav;
            } else {
                ml = mav;
            }
        }
        return x - values[mu - 1] < values[mu] - x ? mu - 1 : mu;
    }
}
