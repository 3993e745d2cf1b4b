package dev.isthmus.core.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Micro-kernels over weights packed in panels of 16 rows, column-major inside a panel ({@code w[p + k·16 + j]} =
 * row j, column k, see {@link PackedLinear}): a tile of 16 outputs × n activation rows keeps 2·n accumulators
 * of 8 lanes, loads two weight vectors and broadcasts n activations per column — no horizontal sums, no
 * decoding. Accumulators start at the bias. Tiles write {@code out[o + t·outStride + j]} for activation row t
 * ({@code x[xOff + t·cols ...]}).
 *
 * <p>Tiles of 6 and 4 rows run one accumulator chain per output vector; tiles of 2 and 1 split the columns into
 * two or four interleaved chains so that eight or more independent multiply-adds are in flight.
 */
final class PackedKernels {
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;

    private PackedKernels() {
    }

    /** Whether the tiles can run well here (8-lane float vectors in hardware). */
    static boolean available() {
        return CpuOps.panelKernelsAvailable();
    }

    /**
     * Widens a panel of halves ({@link PackedLinear}'s pairs: {@code pairs[q + 8k + j]} holds row j in its low and row
     * j+8 in its high 16 bits) to the float panel layout of {@link #tiles}, {@code cols} columns.
     */
    static void halvesToFloats(int[] pairs, int q, int cols, float[] out) {
        for (int k = 0; k < cols; k++) {
            IntVector v = IntVector.fromArray(I8, pairs, q + k * 8);
            lowHalves(v).mul(0x1p112f).intoArray(out, k * 16);
            highHalves(v).mul(0x1p112f).intoArray(out, k * 16 + 8);
        }
    }

    /**
     * The low halves of eight pairs as floats times 2^-112, the scale at which the half tiles accumulate. Shifted
     * into the top 16 bits and arithmetically back by 3, a half's sign fills bits 28..31 and its exponent and
     * mantissa land in bits 13..27; masked to bit 31 and bits 13..27 this reads as a float that is exactly the
     * half's value times 2^-112 (subnormal halves included). Scaling by a power of two commutes with rounding, so
     * the tiles' results equal float arithmetic on the weights except for terms far below 2^-14 (absolute
     * differences under 1e-11) — and a weight costs shifts and a mask, no shuffle.
     */
    private static FloatVector lowHalves(IntVector v) {
        return v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                .reinterpretAsFloats();
    }

    /** As {@link #lowHalves} for the high halves (the low half's bits fall below the mask). */
    private static FloatVector highHalves(IntVector v) {
        return v.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats();
    }

    /**
     * Runs the tiles for activation rows {@code [t0, t1)} against the panel at {@code w[p ...]}: groups of 6, with
     * the remainder in tiles of 4, 2 and 1 (8 left go as 4 + 4).
     */
    static void tiles(float[] w, int p, int cols, float[] x, int t0, int t1, float[] bias, int b0,
                      float[] out, int o, int outStride) {
        int t = t0;
        while (t < t1) {
            int left = t1 - t;
            int xOff = t * cols;
            int oOff = o + t * outStride;
            if (left >= 6 && left != 8) {
                tile6(w, p, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 6;
            } else if (left >= 4) {
                tile4(w, p, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 4;
            } else if (left >= 2) {
                tile2(w, p, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 2;
            } else {
                tile1(w, p, cols, x, xOff, bias, b0, out, oOff);
                t += 1;
            }
        }
    }

    /** The scalar twin of {@link #tiles}, in double precision: the test oracle. */
    static void tilesScalar(float[] w, int p, int cols, float[] x, int t0, int t1, float[] bias, int b0,
                            float[] out, int o, int outStride) {
        for (int t = t0; t < t1; t++) {
            for (int j = 0; j < 16; j++) {
                double s = bias[b0 + j];
                for (int k = 0; k < cols; k++) {
                    s += (double) w[p + k * 16 + j] * x[t * cols + k];
                }
                out[o + t * outStride + j] = (float) s;
            }
        }
    }

    static void tile6(float[] w, int p, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector bl = FloatVector.fromArray(F8, bias, b0);
        FloatVector bh = FloatVector.fromArray(F8, bias, b0 + 8);
        FloatVector a00 = bl;
        FloatVector a01 = bh;
        FloatVector a10 = bl;
        FloatVector a11 = bh;
        FloatVector a20 = bl;
        FloatVector a21 = bh;
        FloatVector a30 = bl;
        FloatVector a31 = bh;
        FloatVector a40 = bl;
        FloatVector a41 = bh;
        FloatVector a50 = bl;
        FloatVector a51 = bh;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        int x4 = x3 + cols;
        int x5 = x4 + cols;
        for (int k = 0; k < cols; k++) {
            int pk = p + k * 16;
            FloatVector w0 = FloatVector.fromArray(F8, w, pk);
            FloatVector w1 = FloatVector.fromArray(F8, w, pk + 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F8, x[x2 + k]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F8, x[x3 + k]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            b = FloatVector.broadcast(F8, x[x4 + k]);
            a40 = w0.fma(b, a40);
            a41 = w1.fma(b, a41);
            b = FloatVector.broadcast(F8, x[x5 + k]);
            a50 = w0.fma(b, a50);
            a51 = w1.fma(b, a51);
        }
        a00.intoArray(out, o);
        a01.intoArray(out, o + 8);
        a10.intoArray(out, o + outStride);
        a11.intoArray(out, o + outStride + 8);
        a20.intoArray(out, o + 2 * outStride);
        a21.intoArray(out, o + 2 * outStride + 8);
        a30.intoArray(out, o + 3 * outStride);
        a31.intoArray(out, o + 3 * outStride + 8);
        a40.intoArray(out, o + 4 * outStride);
        a41.intoArray(out, o + 4 * outStride + 8);
        a50.intoArray(out, o + 5 * outStride);
        a51.intoArray(out, o + 5 * outStride + 8);
    }

    static void tile4(float[] w, int p, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector bl = FloatVector.fromArray(F8, bias, b0);
        FloatVector bh = FloatVector.fromArray(F8, bias, b0 + 8);
        FloatVector a00 = bl;
        FloatVector a01 = bh;
        FloatVector a10 = bl;
        FloatVector a11 = bh;
        FloatVector a20 = bl;
        FloatVector a21 = bh;
        FloatVector a30 = bl;
        FloatVector a31 = bh;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        for (int k = 0; k < cols; k++) {
            int pk = p + k * 16;
            FloatVector w0 = FloatVector.fromArray(F8, w, pk);
            FloatVector w1 = FloatVector.fromArray(F8, w, pk + 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F8, x[x2 + k]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F8, x[x3 + k]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
        }
        a00.intoArray(out, o);
        a01.intoArray(out, o + 8);
        a10.intoArray(out, o + outStride);
        a11.intoArray(out, o + outStride + 8);
        a20.intoArray(out, o + 2 * outStride);
        a21.intoArray(out, o + 2 * outStride + 8);
        a30.intoArray(out, o + 3 * outStride);
        a31.intoArray(out, o + 3 * outStride + 8);
    }

    /** Two activation rows, columns in two interleaved chains. */
    static void tile2(float[] w, int p, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector a00 = FloatVector.fromArray(F8, bias, b0);
        FloatVector a01 = FloatVector.fromArray(F8, bias, b0 + 8);
        FloatVector a10 = a00;
        FloatVector a11 = a01;
        FloatVector c00 = FloatVector.zero(F8);
        FloatVector c01 = c00;
        FloatVector c10 = c00;
        FloatVector c11 = c00;
        int x1 = x0 + cols;
        int k = 0;
        for (; k + 2 <= cols; k += 2) {
            int pk = p + k * 16;
            FloatVector w0 = FloatVector.fromArray(F8, w, pk);
            FloatVector w1 = FloatVector.fromArray(F8, w, pk + 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            w0 = FloatVector.fromArray(F8, w, pk + 16);
            w1 = FloatVector.fromArray(F8, w, pk + 24);
            b = FloatVector.broadcast(F8, x[x0 + k + 1]);
            c00 = w0.fma(b, c00);
            c01 = w1.fma(b, c01);
            b = FloatVector.broadcast(F8, x[x1 + k + 1]);
            c10 = w0.fma(b, c10);
            c11 = w1.fma(b, c11);
        }
        if (k < cols) {
            int pk = p + k * 16;
            FloatVector w0 = FloatVector.fromArray(F8, w, pk);
            FloatVector w1 = FloatVector.fromArray(F8, w, pk + 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
        }
        a00.add(c00).intoArray(out, o);
        a01.add(c01).intoArray(out, o + 8);
        a10.add(c10).intoArray(out, o + outStride);
        a11.add(c11).intoArray(out, o + outStride + 8);
    }

    /** One activation row, columns in four interleaved chains. */
    static void tile1(float[] w, int p, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o) {
        FloatVector a0 = FloatVector.fromArray(F8, bias, b0);
        FloatVector a1 = FloatVector.fromArray(F8, bias, b0 + 8);
        FloatVector c0 = FloatVector.zero(F8);
        FloatVector c1 = c0;
        FloatVector d0 = c0;
        FloatVector d1 = c0;
        FloatVector e0 = c0;
        FloatVector e1 = c0;
        int k = 0;
        for (; k + 4 <= cols; k += 4) {
            int pk = p + k * 16;
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a0 = FloatVector.fromArray(F8, w, pk).fma(b, a0);
            a1 = FloatVector.fromArray(F8, w, pk + 8).fma(b, a1);
            b = FloatVector.broadcast(F8, x[x0 + k + 1]);
            c0 = FloatVector.fromArray(F8, w, pk + 16).fma(b, c0);
            c1 = FloatVector.fromArray(F8, w, pk + 24).fma(b, c1);
            b = FloatVector.broadcast(F8, x[x0 + k + 2]);
            d0 = FloatVector.fromArray(F8, w, pk + 32).fma(b, d0);
            d1 = FloatVector.fromArray(F8, w, pk + 40).fma(b, d1);
            b = FloatVector.broadcast(F8, x[x0 + k + 3]);
            e0 = FloatVector.fromArray(F8, w, pk + 48).fma(b, e0);
            e1 = FloatVector.fromArray(F8, w, pk + 56).fma(b, e1);
        }
        for (; k < cols; k++) {
            int pk = p + k * 16;
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a0 = FloatVector.fromArray(F8, w, pk).fma(b, a0);
            a1 = FloatVector.fromArray(F8, w, pk + 8).fma(b, a1);
        }
        a0.add(c0).add(d0.add(e0)).intoArray(out, o);
        a1.add(c1).add(d1.add(e1)).intoArray(out, o + 8);
    }

    /**
     * As {@link #tiles} for a panel of halves, pairs from {@code h[q ...]} (see {@link #halvesToFloats}): the same
     * 16-row tiles, each weight widened in registers ({@link #lowHalves}).
     */
    static void halfTiles(int[] h, int q, int cols, float[] x, int t0, int t1, float[] bias, int b0,
                          float[] out, int o, int outStride) {
        int t = t0;
        while (t < t1) {
            int left = t1 - t;
            int xOff = t * cols;
            int oOff = o + t * outStride;
            if (left >= 6 && left != 8) {
                halfTile6(h, q, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 6;
            } else if (left >= 4) {
                halfTile4(h, q, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 4;
            } else if (left >= 2) {
                halfTile2(h, q, cols, x, xOff, bias, b0, out, oOff, outStride);
                t += 2;
            } else {
                halfTile1(h, q, cols, x, xOff, bias, b0, out, oOff);
                t += 1;
            }
        }
    }

    /** The scalar twin of {@link #halfTiles}, in double precision: the test oracle. */
    static void halfTilesScalar(int[] h, int q, int cols, float[] x, int t0, int t1, float[] bias, int b0,
                                float[] out, int o, int outStride) {
        for (int t = t0; t < t1; t++) {
            for (int j = 0; j < 16; j++) {
                double s = bias[b0 + j];
                for (int k = 0; k < cols; k++) {
                    int pair = h[q + k * 8 + j % 8];
                    s += (double) Float.float16ToFloat((short) (j < 8 ? pair : pair >>> 16)) * x[t * cols + k];
                }
                out[o + t * outStride + j] = (float) s;
            }
        }
    }

    /** 6 activation rows, weights as halves (accumulated 2^-112-scaled, see {@link #lowHalves}). */
    static void halfTile6(int[] h, int q, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector bl = FloatVector.fromArray(F8, bias, b0).mul(0x1p-112f);
        FloatVector bh = FloatVector.fromArray(F8, bias, b0 + 8).mul(0x1p-112f);
        FloatVector a00 = bl;
        FloatVector a01 = bh;
        FloatVector a10 = bl;
        FloatVector a11 = bh;
        FloatVector a20 = bl;
        FloatVector a21 = bh;
        FloatVector a30 = bl;
        FloatVector a31 = bh;
        FloatVector a40 = bl;
        FloatVector a41 = bh;
        FloatVector a50 = bl;
        FloatVector a51 = bh;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        int x4 = x3 + cols;
        int x5 = x4 + cols;
        for (int k = 0; k < cols; k++) {
            IntVector v = IntVector.fromArray(I8, h, q + k * 8);
            FloatVector w0 = lowHalves(v);
            FloatVector w1 = highHalves(v);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F8, x[x2 + k]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F8, x[x3 + k]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            b = FloatVector.broadcast(F8, x[x4 + k]);
            a40 = w0.fma(b, a40);
            a41 = w1.fma(b, a41);
            b = FloatVector.broadcast(F8, x[x5 + k]);
            a50 = w0.fma(b, a50);
            a51 = w1.fma(b, a51);
        }
        a00.mul(0x1p112f).intoArray(out, o);
        a01.mul(0x1p112f).intoArray(out, o + 8);
        a10.mul(0x1p112f).intoArray(out, o + outStride);
        a11.mul(0x1p112f).intoArray(out, o + outStride + 8);
        a20.mul(0x1p112f).intoArray(out, o + 2 * outStride);
        a21.mul(0x1p112f).intoArray(out, o + 2 * outStride + 8);
        a30.mul(0x1p112f).intoArray(out, o + 3 * outStride);
        a31.mul(0x1p112f).intoArray(out, o + 3 * outStride + 8);
        a40.mul(0x1p112f).intoArray(out, o + 4 * outStride);
        a41.mul(0x1p112f).intoArray(out, o + 4 * outStride + 8);
        a50.mul(0x1p112f).intoArray(out, o + 5 * outStride);
        a51.mul(0x1p112f).intoArray(out, o + 5 * outStride + 8);
    }

    /** 4 activation rows, weights as halves (accumulated 2^-112-scaled, see {@link #lowHalves}). */
    static void halfTile4(int[] h, int q, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector bl = FloatVector.fromArray(F8, bias, b0).mul(0x1p-112f);
        FloatVector bh = FloatVector.fromArray(F8, bias, b0 + 8).mul(0x1p-112f);
        FloatVector a00 = bl;
        FloatVector a01 = bh;
        FloatVector a10 = bl;
        FloatVector a11 = bh;
        FloatVector a20 = bl;
        FloatVector a21 = bh;
        FloatVector a30 = bl;
        FloatVector a31 = bh;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        for (int k = 0; k < cols; k++) {
            IntVector v = IntVector.fromArray(I8, h, q + k * 8);
            FloatVector w0 = lowHalves(v);
            FloatVector w1 = highHalves(v);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F8, x[x2 + k]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F8, x[x3 + k]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
        }
        a00.mul(0x1p112f).intoArray(out, o);
        a01.mul(0x1p112f).intoArray(out, o + 8);
        a10.mul(0x1p112f).intoArray(out, o + outStride);
        a11.mul(0x1p112f).intoArray(out, o + outStride + 8);
        a20.mul(0x1p112f).intoArray(out, o + 2 * outStride);
        a21.mul(0x1p112f).intoArray(out, o + 2 * outStride + 8);
        a30.mul(0x1p112f).intoArray(out, o + 3 * outStride);
        a31.mul(0x1p112f).intoArray(out, o + 3 * outStride + 8);
    }

    /** 2 activation rows, weights as halves (accumulated 2^-112-scaled, see {@link #lowHalves}). */
    static void halfTile2(int[] h, int q, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o,
                      int outStride) {
        FloatVector bl = FloatVector.fromArray(F8, bias, b0).mul(0x1p-112f);
        FloatVector bh = FloatVector.fromArray(F8, bias, b0 + 8).mul(0x1p-112f);
        FloatVector a00 = bl;
        FloatVector a01 = bh;
        FloatVector a10 = bl;
        FloatVector a11 = bh;
        int x1 = x0 + cols;
        for (int k = 0; k < cols; k++) {
            IntVector v = IntVector.fromArray(I8, h, q + k * 8);
            FloatVector w0 = lowHalves(v);
            FloatVector w1 = highHalves(v);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F8, x[x1 + k]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
        }
        a00.mul(0x1p112f).intoArray(out, o);
        a01.mul(0x1p112f).intoArray(out, o + 8);
        a10.mul(0x1p112f).intoArray(out, o + outStride);
        a11.mul(0x1p112f).intoArray(out, o + outStride + 8);
    }

    /** One activation row, weights as halves, columns in two interleaved chains. */
    static void halfTile1(int[] h, int q, int cols, float[] x, int x0, float[] bias, int b0, float[] out, int o) {
        FloatVector a0 = FloatVector.fromArray(F8, bias, b0).mul(0x1p-112f);
        FloatVector a1 = FloatVector.fromArray(F8, bias, b0 + 8).mul(0x1p-112f);
        FloatVector c0 = FloatVector.zero(F8);
        FloatVector c1 = c0;
        int k = 0;
        for (; k + 2 <= cols; k += 2) {
            IntVector v = IntVector.fromArray(I8, h, q + k * 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a0 = lowHalves(v).fma(b, a0);
            a1 = highHalves(v).fma(b, a1);
            v = IntVector.fromArray(I8, h, q + k * 8 + 8);
            b = FloatVector.broadcast(F8, x[x0 + k + 1]);
            c0 = lowHalves(v).fma(b, c0);
            c1 = highHalves(v).fma(b, c1);
        }
        if (k < cols) {
            IntVector v = IntVector.fromArray(I8, h, q + k * 8);
            FloatVector b = FloatVector.broadcast(F8, x[x0 + k]);
            a0 = lowHalves(v).fma(b, a0);
            a1 = highHalves(v).fma(b, a1);
        }
        a0.add(c0).mul(0x1p112f).intoArray(out, o);
        a1.add(c1).mul(0x1p112f).intoArray(out, o + 8);
    }
}
