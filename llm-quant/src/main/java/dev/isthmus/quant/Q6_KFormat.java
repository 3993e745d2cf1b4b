package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q6_K: super-blocks of 256 weights in 210 bytes: 128 bytes of low nibbles ({@code ql}), 64 bytes of
 * high bit pairs ({@code qh}), 16 signed 8-bit sub-block scales, {@code d} (F16). Weight = d·scale·(level − 32).
 * Each 128-weight half interleaves four 32-weight runs: ql[l] low/high nibble, ql[l+32] low/high nibble,
 * with qh[l] bits 0-1, 2-3, 4-5, 6-7 on top.
 */
public final class Q6_KFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 210;

    @Override
    public GgmlType type() {
        return GgmlType.Q6_K;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block + 208);
            for (int n = 0; n < 2; n++) {
                long ql = block + 64 * n;
                long qh = block + 128 + 32 * n;
                long sc = block + 192 + 8 * n;
                int y = dstOffset + b * QK + 128 * n;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int a = QuantVectors.u8(data, ql + l);
                    int c = QuantVectors.u8(data, ql + l + 32);
                    int h = QuantVectors.u8(data, qh + l);
                    int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                    int q2 = ((c & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = ((a >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = ((c >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    dst[y + l] = d * data.get(ValueLayouts.I8, sc + is) * q1;
                    dst[y + l + 32] = d * data.get(ValueLayouts.I8, sc + is + 2) * q2;
                    dst[y + l + 64] = d * data.get(ValueLayouts.I8, sc + is + 4) * q3;
                    dst[y + l + 96] = d * data.get(ValueLayouts.I8, sc + is + 6) * q4;
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        if (!QuantVectors.VECTORIZED) {
            dequantizeScalar(data, offset, dst, dstOffset, count);
            return;
        }
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block + 208);
            for (int n = 0; n < 2; n++) {
                long ql = block + 64 * n;
                long qh = block + 128 + 32 * n;
                // The eight signed 8-bit scales of this half, in one load.
                long sc = data.get(ValueLayouts.I64, block + 192 + 8 * n);
                int y = dstOffset + b * QK + 128 * n;
                // Lane counts divide 16, so the scale index l/16 is constant across a vector.
                for (int l = 0; l < 32; l += LANES) {
                    int is = l / 16;
                    IntVector a = QuantVectors.ints(data, ql + l);
                    IntVector c = QuantVectors.ints(data, ql + l + 32);
                    IntVector h = QuantVectors.ints(data, qh + l);
                    FloatVector.broadcast(F, d * scale(sc, is)).mul(QuantVectors.toFloat(level1(a, h)))
                            .intoArray(dst, y + l);
                    FloatVector.broadcast(F, d * scale(sc, is + 2)).mul(QuantVectors.toFloat(level2(c, h)))
                            .intoArray(dst, y + l + 32);
                    FloatVector.broadcast(F, d * scale(sc, is + 4)).mul(QuantVectors.toFloat(level3(a, h)))
                            .intoArray(dst, y + l + 64);
                    FloatVector.broadcast(F, d * scale(sc, is + 6)).mul(QuantVectors.toFloat(level4(c, h)))
                            .intoArray(dst, y + l + 96);
                }
            }
        }
    }

    /** Signed byte {@code i} of the scale word {@code sc}. */
    private static int scale(long sc, int i) {
        return (byte) (sc >>> (8 * i));
    }

    // The four 6-bit levels (centred: −32..31) a byte pair (low bits a or c, high bits h) holds.
    private static IntVector level1(IntVector a, IntVector h) {
        return a.and(0x0F).or(h.lanewise(VectorOperators.LSHL, 4).and(0x30)).sub(32);
    }

    private static IntVector level2(IntVector c, IntVector h) {
        return c.and(0x0F).or(h.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32);
    }

    private static IntVector level3(IntVector a, IntVector h) {
        return QuantVectors.highNibble(a).or(h.and(0x30)).sub(32);
    }

    private static IntVector level4(IntVector c, IntVector h) {
        return QuantVectors.highNibble(c).or(h.lanewise(VectorOperators.ASHR, 2).and(0x30)).sub(32);
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        // Byte-lane unpacking measured faster here than the int-lane unpacking of the other formats.
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block + 208);
            for (int n = 0; n < 2; n++) {
                long ql = block + 64 * n;
                long qh = block + 128 + 32 * n;
                long sc = block + 192 + 8 * n;
                int xb = xOffset + b * QK + 128 * n;
                // Lane counts divide 16, so the scale index l/16 is constant across a vector.
                for (int l = 0; l < 32; l += LANES) {
                    int is = l / 16;
                    ByteVector a = QuantVectors.bytes(data, ql + l);
                    ByteVector c = QuantVectors.bytes(data, ql + l + 32);
                    ByteVector h = QuantVectors.bytes(data, qh + l);
                    ByteVector q1 = a.and((byte) 0xF).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q2 = c.and((byte) 0xF).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3)
                            .lanewise(VectorOperators.LSHL, 4));
                    ByteVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4)
                            .and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q4 = c.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6)
                            .lanewise(VectorOperators.LSHL, 4));
                    FloatVector p1 = QuantVectors.toFloat(q1.sub((byte) 32)).mul(QuantVectors.x(x, xb + l));
                    FloatVector p2 = QuantVectors.toFloat(q2.sub((byte) 32)).mul(QuantVectors.x(x, xb + l + 32));
                    FloatVector p3 = QuantVectors.toFloat(q3.sub((byte) 32)).mul(QuantVectors.x(x, xb + l + 64));
                    FloatVector p4 = QuantVectors.toFloat(q4.sub((byte) 32)).mul(QuantVectors.x(x, xb + l + 96));
                    acc = p1.fma(FloatVector.broadcast(F, d * data.get(ValueLayouts.I8, sc + is)), acc);
                    acc = p2.fma(FloatVector.broadcast(F, d * data.get(ValueLayouts.I8, sc + is + 2)), acc);
                    acc = p3.fma(FloatVector.broadcast(F, d * data.get(ValueLayouts.I8, sc + is + 4)), acc);
                    acc = p4.fma(FloatVector.broadcast(F, d * data.get(ValueLayouts.I8, sc + is + 6)), acc);
                }
            }
        }
        return IntLanes.sum(acc);
    }

    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q6_KRowGroups ROW_GROUPS = new Q6_KRowGroups();

    /**
     * Integer kernel in the arithmetic of llama.cpp's AVX2 {@code ggml_vec_dot_q6_K_q8_K}: each 32-element run
     * of 6-bit levels (0..63) is assembled in 16-bit lanes holding element pairs (2m, 2m+1), multiplied with
     * the even and odd activations, summed per 32-bit lane over four elements 4k … 4k+3 and weighted by the
     * scale of the lane's 16-element sub-block; the −32 offset comes off per lane through the activations'
     * 16-element sums, and d·d_x meets the exact lane sums in one float FMA chain per super-block.
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        // Passed through memory because superBlock is compiled on its own: vectors crossing a call that is
        // not inlined would be boxed.
        float[] acc = new float[8];
        short[] levels = x.levels();
        float[] xScales = x.scales();
        int[] xSums = x.sums();
        for (int b = 0; b < count / QK; b++) {
            int xb = xOffset + b * QK;
            superBlock(data, offset + (long) b * BLOCK_BYTES, levels, xb, xSums, xb / QK * ActivationRounding.SUMS_PER_BLOCK,
                    xScales[xb / QK], acc);
        }
        return IntLanes.sumLanes(FloatVector.fromArray(IntLanes.F, acc, 0));
    }

    /**
     * One super-block into {@code acc}; a loop over the four runs of each half keeps the method small enough
     * for C2 to compile every Vector API call as an intrinsic.
     */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s16,
                                   float dx, float[] acc) {
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int n = 0; n < 2; n++) {
            ShortVector a = ShortVector.fromMemorySegment(IntLanes.S, data, block + 64 * n, QuantVectors.LE);
            ShortVector c = ShortVector.fromMemorySegment(IntLanes.S, data, block + 64 * n + 32, QuantVectors.LE);
            ShortVector h = ShortVector.fromMemorySegment(IntLanes.S, data, block + 128 + 32 * n, QuantVectors.LE);
            // The half's 8 sub-block scales; run k takes scales 2k (lanes 0-3) and 2k+1 (lanes 4-7).
            IntVector sc = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, data, block + 192 + 8 * n,
                    QuantVectors.LE).convertShape(VectorOperators.B2I, IntLanes.I, 0);
            int xn = xb + 128 * n;
            for (int k = 0; k < 4; k++) {
                // Run k: low bits from a (k even) or c (k odd), low or high nibbles, bits 2k..2k+1 of h on top.
                ShortVector q = ((k & 1) == 0 ? a : c).lanewise(VectorOperators.LSHR, (short) (4 * (k >> 1))).and(LOW_NIBBLES)
                        .or(h.lanewise(VectorOperators.LSHR, (short) (2 * k)).and(HIGH_PAIRS).lanewise(VectorOperators.LSHL, (short) 4));
                int at = xn + 32 * k;
                IntVector pairs = q.and(LOW_BYTE).mul(ShortVector.fromArray(IntLanes.S, levels, at))
                        .add(q.lanewise(VectorOperators.LSHR, (short) 8).mul(ShortVector.fromArray(IntLanes.S, levels, at + 16)))
                        .reinterpretAsInts();
                sum = sum.add(IntLanes.addHalves(pairs).mul(sc.rearrange(KQuantIntegers.RUN_SCALES[k])));
            }
        }
        // Σ scale·16-sum over pairs of sub-blocks (2k, 2k+1), times 32: the offset per lane.
        IntVector scales = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, data, block + 192,
                QuantVectors.LE).convertShape(VectorOperators.B2S, IntLanes.S, 0)).reinterpretAsInts();
        IntVector evenScales = scales.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16);
        IntVector offsets = IntVector.fromArray(IntLanes.I, xSums, s16).mul(evenScales)
                .add(IntVector.fromArray(IntLanes.I, xSums, s16 + 8).mul(scales.lanewise(VectorOperators.ASHR, 16)))
                .lanewise(VectorOperators.LSHL, 5);
        float d = dx * QuantVectors.f16(data, block + 208);
        IntLanes.toFloat(sum.sub(offsets)).fma(FloatVector.broadcast(IntLanes.F, d), FloatVector.fromArray(IntLanes.F, acc, 0))
                .intoArray(acc, 0);
    }

    private static final ShortVector LOW_NIBBLES = ShortVector.broadcast(IntLanes.S, (short) 0x0F0F);
    private static final ShortVector HIGH_PAIRS = ShortVector.broadcast(IntLanes.S, (short) 0x0303);
    private static final ShortVector LOW_BYTE = ShortVector.broadcast(IntLanes.S, (short) 0xFF);

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            int dots = 0;
            for (int n = 0; n < 2; n++) {
                long ql = block + 64 * n;
                long qh = block + 128 + 32 * n;
                long sc = block + 192 + 8 * n;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int a = QuantVectors.u8(data, ql + l);
                    int c = QuantVectors.u8(data, ql + l + 32);
                    int h = QuantVectors.u8(data, qh + l);
                    int at = xb + 128 * n + l;
                    dots += data.get(ValueLayouts.I8, sc + is) * ((a & 0xF | (h & 3) << 4) - 32) * level(x, at);
                    dots += data.get(ValueLayouts.I8, sc + is + 2) * ((c & 0xF | (h >> 2 & 3) << 4) - 32) * level(x, at + 32);
                    dots += data.get(ValueLayouts.I8, sc + is + 4) * ((a >> 4 | (h >> 4 & 3) << 4) - 32) * level(x, at + 64);
                    dots += data.get(ValueLayouts.I8, sc + is + 6) * ((c >> 4 | (h >> 6 & 3) << 4) - 32) * level(x, at + 96);
                }
            }
            sum += QuantVectors.f16(data, block + 208) * x.scales()[xb / QK] * dots;
        }
        return sum;
    }

    private static short level(QuantizedActivations x, int element) {
        return x.levels()[QuantizedActivations.evenOddIndex(element)];
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q6_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        byte[] levels = new byte[QK];
        float[] scales = new float[16];
        KQuantLanes search = new KQuantLanes(16);
        for (int b = 0; b < count / QK; b++) {
            int x = srcOffset + b * QK;
            long block = offset + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float maxAbsScale = 0;
            search.makeQxQuants(32, src, x, levels, 0, scales, 0);
            search.makeQxQuants(32, src, x + 128, levels, 128, scales, 8);
            for (int ib = 0; ib < 16; ib++) {
                float scale = scales[ib];
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < KQuantMath.GROUP_MAX_EPS) {
                dst.asSlice(block, BLOCK_BYTES).fill((byte) 0);
                continue;
            }
            float iscale = -128.f / maxScale;
            short dBits = Half.floatToF16(1 / iscale);
            dst.set(ValueLayouts.I16, block + 208, dBits);
            byte[] sc = new byte[16];
            for (int ib = 0; ib < 16; ib++) {
                sc[ib] = (byte) Math.min(127, KQuantMath.nearestInt(iscale * scales[ib]));
                dst.set(ValueLayouts.I8, block + 192 + ib, sc[ib]);
            }
            float d16 = Half.f16ToFloat(dBits);
            for (int j = 0; j < 16; j++) {
                float d = d16 * sc[j];
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuantMath.nearestInt(src[x + 16 * j + ii] / d);
                    levels[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                }
            }
            for (int j = 0; j < QK; j += 128) {
                long ql = block + j / 2;
                long qh = block + 128 + j / 4;
                for (int l = 0; l < 32; l++) {
                    int q1 = levels[j + l] & 0xF;
                    int q2 = levels[j + l + 32] & 0xF;
                    int q3 = levels[j + l + 64] & 0xF;
                    int q4 = levels[j + l + 96] & 0xF;
                    dst.set(ValueLayouts.I8, ql + l, (byte) (q1 | (q3 << 4)));
                    dst.set(ValueLayouts.I8, ql + l + 32, (byte) (q2 | (q4 << 4)));
                    dst.set(ValueLayouts.I8, qh + l, (byte) ((levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                            | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6)));
                }
            }
        }
    }
}
