package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * GGML Q3_K: super-blocks of 256 weights in 110 bytes: 32 bytes of high bits ({@code hmask}), 64 bytes of
 * 2-bit levels, 12 bytes packing sixteen 6-bit signed scales, {@code d} (F16). Weight 128n + 32j + k is
 * d·(scale[8n + 2j + k/16] − 32)·(((qs[32n + k] >> 2j) &amp; 3) − (hmask[k] bit 4n+j ? 0 : 4)).
 */
public final class Q3_KFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 110;

    @Override
    public GgmlType type() {
        return GgmlType.Q3_K;
    }

    /** The 16 sub-block scales, −32..31. */
    static void scales(MemorySegment data, long block, int[] out) {
        byte[] s = new byte[12];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, block + 96, s, 0, 12);
        for (int j = 0; j < 16; j++) {
            int low = j < 8 ? s[j] & 0xF : (s[j - 8] & 0xFF) >> 4;
            int high = ((s[8 + j % 4] & 0xFF) >> (2 * (j / 4))) & 3;
            out[j] = (low | high << 4) - 32;
        }
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        int[] sc = new int[16];
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float dAll = QuantVectors.f16(data, block + 108);
            scales(data, block, sc);
            for (int n = 0; n < 2; n++) {
                for (int j = 0; j < 4; j++) {
                    int bit = 1 << (4 * n + j);
                    for (int k = 0; k < 32; k++) {
                        float dl = dAll * sc[8 * n + 2 * j + k / 16];
                        int q = (QuantVectors.u8(data, block + 32 + 32 * n + k) >> (2 * j)) & 3;
                        int h = (QuantVectors.u8(data, block + k) & bit) != 0 ? 0 : 4;
                        dst[dstOffset + b * QK + 128 * n + 32 * j + k] = dl * (q - h);
                    }
                }
            }
        }
    }

    /**
     * Sub-blocks 8h..8h+7's 6-bit scales (+32) as the eight bytes of a long, from the 12 scale bytes read as a
     * long ({@code lo}) and an int ({@code hi}): a few whole-word operations instead of sixteen bit-field reads.
     */
    static long packedScales(long lo, int hi, int h) {
        long low = (lo >>> (4 * h)) & 0x0F0F0F0F0F0F0F0FL;
        long high = ((hi >>> (4 * h)) & 0x03030303L) | (((hi >>> (4 * h + 2)) & 0x03030303L) << 32);
        return low | high << 4;
    }

    /** Scale −32..31 in byte {@code i} of a {@link #packedScales} long. */
    static int scale(long packed, int i) {
        return ((int) (packed >>> (8 * i)) & 0xFF) - 32;
    }

    /** Levels −4..3 of weights 128n + 32j + k .. +LANES: 2 low bits from {@code qs}, the high bit from {@code hmask}. */
    private static IntVector levels(MemorySegment data, long block, int n, int j, int k) {
        IntVector q = QuantVectors.ints(data, block + 32 + 32 * n + k).lanewise(VectorOperators.ASHR, 2 * j).and(3);
        IntVector hm = QuantVectors.ints(data, block + k);
        int shift = 4 * n + j - 2;
        // The high bit moved to bit 2: it cancels the offset of 4 (set means level q, clear means q − 4).
        IntVector h = shift >= 0 ? hm.lanewise(VectorOperators.ASHR, shift).and(4)
                : hm.lanewise(VectorOperators.LSHL, -shift).and(4);
        return q.or(h).sub(4);
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
            float dAll = QuantVectors.f16(data, block + 108);
            long sLo = data.get(ValueLayouts.I64, block + 96);
            int sHi = data.get(ValueLayouts.I32, block + 104);
            for (int n = 0; n < 2; n++) {
                long sc = packedScales(sLo, sHi, n);
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 32; k += LANES) {
                        FloatVector dl = FloatVector.broadcast(F, dAll * scale(sc, 2 * j + k / 16));
                        dl.mul(QuantVectors.toFloat(levels(data, block, n, j, k)))
                                .intoArray(dst, dstOffset + b * QK + 128 * n + 32 * j + k);
                    }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float dAll = QuantVectors.f16(data, block + 108);
            long sLo = data.get(ValueLayouts.I64, block + 96);
            int sHi = data.get(ValueLayouts.I32, block + 104);
            for (int n = 0; n < 2; n++) {
                long sc = packedScales(sLo, sHi, n);
                for (int j = 0; j < 4; j++) {
                    int xs = xOffset + b * QK + 128 * n + 32 * j;
                    FloatVector s0 = FloatVector.zero(F);
                    FloatVector s1 = FloatVector.zero(F);
                    for (int l = 0; l < 16; l += LANES) {
                        s0 = QuantVectors.toFloat(levels(data, block, n, j, l)).fma(QuantVectors.x(x, xs + l), s0);
                        s1 = QuantVectors.toFloat(levels(data, block, n, j, 16 + l))
                                .fma(QuantVectors.x(x, xs + 16 + l), s1);
                    }
                    acc0 = s0.fma(FloatVector.broadcast(F, dAll * scale(sc, 2 * j)), acc0);
                    acc1 = s1.fma(FloatVector.broadcast(F, dAll * scale(sc, 2 * j + 1)), acc1);
                }
            }
        }
        return IntLanes.sum(acc0.add(acc1));
    }

    /**
     * Integer kernel in the arithmetic of llama.cpp's {@code ggml_vec_dot_q3_K_q8_K}: per super-block an exact
     * Σ over its 16 sub-blocks of scale × Σ level × activation level, then one FMA with d_w × d_x. Each 16-bit
     * lane holds a weight pair (even, odd element) whose levels meet the activations' even and odd halves
     * ({@link QuantizedActivations#evenOddIndex}).
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return KQuantIntegers.dot(data, offset, x, xOffset, count, BLOCK_BYTES, Q3_KFormat::superBlock);
    }

    /**
     * One super-block into {@code acc} ({@link KQuantIntegers.SuperBlock}; no minimums). Levels are formed as (2 low bits | high bit at bit 2) − 4, signed, so a
     * pair's products sum to at most 2 × 4 × 127 in magnitude and every lane's total stays far inside an int.
     */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32,
                                   float dx, float[] acc) {
        // Scale bytes 0-7 (low nibbles of sub-blocks 0-7, high nibbles of 8-15) and 8-11 (the top two bits,
        // byte 8 + j % 4 at bit 2·(j / 4)), one per int lane; bytes 8-11 are loaded from 100 so that the load
        // stays inside the block, and repeated over lanes 0-3 and 4-7.
        IntVector low = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, data, block + 96, QuantVectors.LE)
                .convertShape(VectorOperators.B2I, IntLanes.I, 0);
        IntVector top = ((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, data, block + 100, QuantVectors.LE)
                .convertShape(VectorOperators.B2I, IntLanes.I, 0)).rearrange(TOP_BYTES);
        ShortVector hm = ShortVector.fromMemorySegment(IntLanes.S, data, block, QuantVectors.LE);
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int n = 0; n < 2; n++) {
            ShortVector qs = ShortVector.fromMemorySegment(IntLanes.S, data, block + 32 + 32 * n, QuantVectors.LE);
            // The half's eight sub-block scales, one per int lane; run j takes 2j (lanes 0-3) and 2j+1 (4-7).
            IntVector sc = low.lanewise(VectorOperators.ASHR, 4 * n).and(0x0F)
                    .or(top.lanewise(VectorOperators.LSHR, TOP_SHIFTS[n]).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
            for (int j = 0; j < 4; j++) {
                int shift = 4 * n + j - 2;
                // hmask bit 4n+j of both bytes moved to bit 2, beside the two low bits.
                ShortVector high = (shift >= 0 ? hm.lanewise(VectorOperators.LSHR, (short) shift)
                        : hm.lanewise(VectorOperators.LSHL, (short) -shift)).and(BIT_TWO);
                ShortVector level = qs.lanewise(VectorOperators.LSHR, (short) (2 * j)).and(LOW_PAIRS).or(high);
                int at = xb + 128 * n + 32 * j;
                IntVector pairs = level.and(LOW_BYTE).sub(FOUR).mul(ShortVector.fromArray(IntLanes.S, levels, at))
                        .add(level.lanewise(VectorOperators.LSHR, (short) 8).sub(FOUR)
                                .mul(ShortVector.fromArray(IntLanes.S, levels, at + 16)))
                        .reinterpretAsInts();
                sum = sum.add(IntLanes.addHalves(pairs).mul(sc.rearrange(KQuantIntegers.RUN_SCALES[j])));
            }
        }
        IntLanes.toFloat(sum).fma(FloatVector.broadcast(IntLanes.F, dx * QuantVectors.f16(data, block + 108)),
                FloatVector.fromArray(IntLanes.F, acc, 0)).intoArray(acc, 0);
    }

    private static final VectorShuffle<Integer> TOP_BYTES = VectorShuffle.fromValues(IntLanes.I, 4, 5, 6, 7, 4, 5, 6, 7);
    /** For half n, lane i: where sub-block 8n + i's top two bits sit in their byte, bit 2·((8n + i) / 4) = 4n + 2·(i / 4). */
    private static final IntVector[] TOP_SHIFTS = {
        IntVector.fromArray(IntLanes.I, new int[] {0, 0, 0, 0, 2, 2, 2, 2}, 0),
        IntVector.fromArray(IntLanes.I, new int[] {4, 4, 4, 4, 6, 6, 6, 6}, 0)};
    private static final ShortVector LOW_PAIRS = ShortVector.broadcast(IntLanes.S, (short) 0x0303);
    private static final ShortVector BIT_TWO = ShortVector.broadcast(IntLanes.S, (short) 0x0404);
    private static final ShortVector LOW_BYTE = ShortVector.broadcast(IntLanes.S, (short) 0xFF);
    private static final ShortVector FOUR = ShortVector.broadcast(IntLanes.S, (short) 4);

    /**
     * Eight rows interleaved ({@link Q3_KRowGroups}). llama.cpp does not repack Q3_K; the group kernel sums the
     * same integers as {@link #dotQuantized} and differs from it only in the order of float additions.
     */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q3_KRowGroups ROW_GROUPS = new Q3_KRowGroups();

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        int[] sc = new int[16];
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            scales(data, block, sc);
            int dots = 0;
            for (int i = 0; i < QK; i++) {
                int n = i / 128;
                int j = i % 128 / 32;
                int k = i % 32;
                int q = (QuantVectors.u8(data, block + 32 + 32 * n + k) >> (2 * j)) & 3;
                int h = (QuantVectors.u8(data, block + k) >> (4 * n + j) & 1) != 0 ? 0 : 4;
                dots += sc[i / 16] * (q - h) * x.levels()[QuantizedActivations.evenOddIndex(xb + i)];
            }
            sum += x.scales()[xb / QK] * QuantVectors.f16(data, block + 108) * dots;
        }
        return sum;
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q3_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        byte[] levels = new byte[QK];
        float[] scales = new float[16];
        byte[] packed = new byte[12];
        KQuantLanes search = new KQuantLanes(16);
        for (int b = 0; b < count / QK; b++) {
            int x = srcOffset + b * QK;
            long block = offset + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float amax = 0;
            search.makeQ3Quants(4, src, x, levels, 0, scales, 0);
            search.makeQ3Quants(4, src, x + 128, levels, 128, scales, 8);
            for (int j = 0; j < 16; j++) {
                float scale = Math.abs(scales[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = scales[j];
                }
            }
            java.util.Arrays.fill(packed, (byte) 0);
            short dBits;
            if (maxScale != 0) {
                float iscale = -32.f / maxScale;
                for (int j = 0; j < 16; j++) {
                    byte l = (byte) KQuantMath.nearestInt(iscale * scales[j]);
                    l = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                    if (j < 8) {
                        packed[j] = (byte) (l & 0xF);
                    } else {
                        packed[j - 8] |= (byte) ((l & 0xF) << 4);
                    }
                    l >>= 4;
                    packed[j % 4 + 8] |= (byte) (l << (2 * (j / 4)));
                }
                dBits = Half.floatToF16(1 / iscale);
            } else {
                dBits = Half.floatToF16(0.f);
            }
            dst.set(ValueLayouts.I16, block + 108, dBits);
            MemorySegment.copy(packed, 0, dst, ValueLayout.JAVA_BYTE, block + 96, 12);
            float d16 = Half.f16ToFloat(dBits);
            for (int j = 0; j < 16; j++) {
                int low = j < 8 ? packed[j] & 0xF : (packed[j - 8] & 0xFF) >> 4;
                int sc = (byte) ((low | ((((packed[8 + j % 4] & 0xFF) >> (2 * (j / 4))) & 3) << 4)) - 32);
                float d = d16 * sc;
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuantMath.nearestInt(src[x + 16 * j + ii] / d);
                    levels[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
                }
            }
            byte[] hmask = new byte[32];
            int m = 0;
            int hm = 1;
            for (int j = 0; j < QK; j++) {
                if (levels[j] > 3) {
                    hmask[m] |= (byte) hm;
                    levels[j] -= 4;
                }
                if (++m == QK / 8) {
                    m = 0;
                    hm <<= 1;
                }
            }
            MemorySegment.copy(hmask, 0, dst, ValueLayout.JAVA_BYTE, block, 32);
            for (int j = 0; j < QK; j += 128) {
                for (int l = 0; l < 32; l++) {
                    dst.set(ValueLayouts.I8, block + 32 + j / 4 + l, (byte) (levels[j + l] | (levels[j + l + 32] << 2)
                            | (levels[j + l + 64] << 4) | (levels[j + l + 96] << 6)));
                }
            }
        }
    }
}
