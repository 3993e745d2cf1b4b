package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q4_K: super-blocks of 256 weights in 144 bytes: {@code d}, {@code dmin} (F16), 12 bytes packing
 * eight 6-bit (scale, min) pairs, 128 bytes of 4-bit levels. Sub-block s (32 weights) decodes as
 * d·scale_s·level − dmin·min_s; each 32-byte run of levels holds sub-block 2c in its low nibbles and
 * 2c+1 in its high nibbles.
 */
public final class Q4_KFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 144;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_K;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        byte[] scales = new byte[12];
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            float min = QuantVectors.f16(data, block + 2);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, block + 4, scales, 0, 12);
            int y = dstOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuantMath.scaleK4(2 * c, scales);
                float m1 = min * KQuantMath.minK4(2 * c, scales);
                float d2 = d * KQuantMath.scaleK4(2 * c + 1, scales);
                float m2 = min * KQuantMath.minK4(2 * c + 1, scales);
                for (int l = 0; l < 32; l++) {
                    int q = QuantVectors.u8(data, block + 16 + 32 * c + l);
                    dst[y + 64 * c + l] = d1 * (q & 0xF) - m1;
                    dst[y + 64 * c + 32 + l] = d2 * (q >> 4) - m2;
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
            float d = QuantVectors.f16(data, block);
            float min = QuantVectors.f16(data, block + 2);
            long sLo = data.get(ValueLayouts.I64, block + 4);
            int sHi = data.get(ValueLayouts.I32, block + 12);
            int y = dstOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                FloatVector d1 = FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c, sLo, sHi));
                FloatVector m1 = FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c, sLo, sHi));
                FloatVector d2 = FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c + 1, sLo, sHi));
                FloatVector m2 = FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c + 1, sLo, sHi));
                for (int l = 0; l < 32; l += LANES) {
                    IntVector q = QuantVectors.ints(data, block + 16 + 32 * c + l);
                    QuantVectors.toFloat(q.and(0x0F)).mul(d1).sub(m1).intoArray(dst, y + 64 * c + l);
                    QuantVectors.toFloat(QuantVectors.highNibble(q)).mul(d2).sub(m2).intoArray(dst, y + 64 * c + 32 + l);
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
        FloatVector accMin = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            float min = QuantVectors.f16(data, block + 2);
            long sLo = data.get(ValueLayouts.I64, block + 4);
            int sHi = data.get(ValueLayouts.I32, block + 12);
            int xb = xOffset + b * QK;
            for (int c = 0; c < 4; c++) {
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector x1s = FloatVector.zero(F);
                FloatVector x2s = FloatVector.zero(F);
                for (int l = 0; l < 32; l += LANES) {
                    IntVector q = QuantVectors.ints(data, block + 16 + 32 * c + l);
                    FloatVector x1 = QuantVectors.x(x, xb + 64 * c + l);
                    FloatVector x2 = QuantVectors.x(x, xb + 64 * c + 32 + l);
                    s1 = QuantVectors.toFloat(q.and(0x0F)).fma(x1, s1);
                    s2 = QuantVectors.toFloat(QuantVectors.highNibble(q)).fma(x2, s2);
                    x1s = x1s.add(x1);
                    x2s = x2s.add(x2);
                }
                // Σ (d·sc·q − dmin·m)·x = d·sc·Σ q·x − dmin·m·Σ x, per sub-block.
                acc0 = s1.fma(FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c, sLo, sHi)), acc0);
                acc1 = s2.fma(FloatVector.broadcast(F, d * KQuantMath.scaleK4(2 * c + 1, sLo, sHi)), acc1);
                accMin = x1s.fma(FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c, sLo, sHi)), accMin);
                accMin = x2s.fma(FloatVector.broadcast(F, min * KQuantMath.minK4(2 * c + 1, sLo, sHi)), accMin);
            }
        }
        return IntLanes.sum(acc0.add(acc1).sub(accMin));
    }

    /**
     * Integer kernel in the arithmetic of llama.cpp's AVX2 {@code ggml_vec_dot_q4_K_q8_K}: a 32-byte run of
     * levels viewed as 16-bit lanes holds element pairs (2m, 2m+1) of two sub-blocks (low and high nibbles);
     * their products with the even and odd activations give, per 32-bit lane, the four elements 4k … 4k+3,
     * weighted by the sub-block scale and summed over the super-block in integers; d·d_x then meets the 8
     * lane sums in one float FMA chain. The minimums form a second chain of 4 lanes (pairs of sub-blocks),
     * both reduced as ggml reduces them.
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return KQuantIntegers.dot(data, offset, x, xOffset, count, BLOCK_BYTES, Q4_KFormat::superBlock);
    }

    /**
     * One super-block into {@code acc}. Kept in its own method, small enough for C2 to compile every
     * Vector API call as an intrinsic (a larger method exceeds its inlining node budget and boxes vectors).
     */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32,
                                   float dx, float[] acc) {
        long scales = KQuantIntegers.scales(data, block + 4);
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int c = 0; c < 4; c++) {
            // Run c: sub-block 2c in the low nibbles, 2c+1 in the high ones.
            ShortVector q = ShortVector.fromMemorySegment(IntLanes.S, data, block + 16 + 32 * c, QuantVectors.LE);
            int xo = xb + 64 * c;
            IntVector low = q.and(LOW_NIBBLE).mul(ShortVector.fromArray(IntLanes.S, levels, xo))
                    .add(q.lanewise(VectorOperators.LSHR, (short) 8).and(LOW_NIBBLE).mul(ShortVector.fromArray(IntLanes.S, levels, xo + 16)))
                    .reinterpretAsInts();
            IntVector high = q.lanewise(VectorOperators.LSHR, (short) 4).and(LOW_NIBBLE).mul(ShortVector.fromArray(IntLanes.S, levels, xo + 32))
                    .add(q.lanewise(VectorOperators.LSHR, (short) 12).mul(ShortVector.fromArray(IntLanes.S, levels, xo + 48)))
                    .reinterpretAsInts();
            sum = sum.add(IntLanes.addHalves(low).mul(KQuantIntegers.at(scales, 2 * c))
                    .add(IntLanes.addHalves(high).mul(KQuantIntegers.at(scales, 2 * c + 1))));
        }
        IntLanes.toFloat(sum).fma(FloatVector.broadcast(IntLanes.F, dx * QuantVectors.f16(data, block)),
                FloatVector.fromArray(IntLanes.F, acc, 0)).intoArray(acc, 0);
        KQuantIntegers.addMinimums(KQuantIntegers.mins(data, block + 4), xSums, s32,
                -dx * QuantVectors.f16(data, block + 2), acc, 8);
    }

    private static final ShortVector LOW_NIBBLE = ShortVector.broadcast(IntLanes.S, (short) 0x0F);

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        float sum = 0f;
        byte[] scales = new byte[12];
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, block + 4, scales, 0, 12);
            int xb = xOffset + b * QK;
            int dots = 0;
            int mins = 0;
            for (int c = 0; c < 4; c++) {
                int lo = 0;
                int hi = 0;
                int loSum = 0;
                int hiSum = 0;
                for (int l = 0; l < 32; l++) {
                    int q = QuantVectors.u8(data, block + 16 + 32 * c + l);
                    short a = x.levels()[QuantizedActivations.evenOddIndex(xb + 64 * c + l)];
                    short a2 = x.levels()[QuantizedActivations.evenOddIndex(xb + 64 * c + 32 + l)];
                    lo += (q & 0xF) * a;
                    hi += (q >> 4) * a2;
                    loSum += a;
                    hiSum += a2;
                }
                dots += KQuantMath.scaleK4(2 * c, scales) * lo + KQuantMath.scaleK4(2 * c + 1, scales) * hi;
                mins += KQuantMath.minK4(2 * c, scales) * loSum + KQuantMath.minK4(2 * c + 1, scales) * hiSum;
            }
            float dx = x.scales()[xb / QK];
            sum += dx * QuantVectors.f16(data, block) * dots - dx * QuantVectors.f16(data, block + 2) * mins;
        }
        return sum;
    }

    /** Eight rows interleaved, as llama.cpp repacks Q4_K on AVX2 machines. */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q4_KRowGroups ROW_GROUPS = new Q4_KRowGroups();

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q4_K_ref} (what llama.cpp's quantizer runs without an importance matrix). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        encode(src, srcOffset, dst, offset, count, 15, -1f, 0.1f, 20, BLOCK_BYTES);
    }

    /**
     * The encoder shared with Q5_K ({@code nmax} 15 or 31): per sub-block an asymmetric scale/min fit,
     * both quantized to 6 bits against the super-block maxima, then levels recomputed from the stored scales.
     * Writes d, dmin, scales and returns the levels in the layout-independent array {@code levelsOut}.
     */
    static void encode(float[] src, int srcOffset, MemorySegment dst, long offset, int count, int nmax, float rmin,
                       float rdelta, int nstep, int blockBytes) {
        byte[] levels = new byte[QK];
        float[] weights = new float[QK];
        float[] mins = new float[8];
        float[] scales = new float[8];
        byte[] packed = new byte[12];
        KQuantLanes search = new KQuantLanes(32);
        byte[] nibbles = new byte[QK / 2];
        for (int b = 0; b < count / QK; b++) {
            int x = srcOffset + b * QK;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) {
                    sumX2 += src[x + 32 * j + l] * src[x + 32 * j + l];
                }
                float avX = (float) Math.sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) {
                    weights[32 * j + l] = avX + Math.abs(src[x + 32 * j + l]);
                }
            }
            search.makeQkx2Quants(nmax, src, x, weights, 0, levels, 0, scales, mins, 0, rmin, rdelta, nstep, false);
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 8; j++) {
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
            float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
            java.util.Arrays.fill(packed, (byte) 0);
            for (int j = 0; j < 8; j++) {
                int ls = Math.min(63, KQuantMath.nearestInt(invScale * scales[j]) & 0xFF);
                int lm = Math.min(63, KQuantMath.nearestInt(invMin * mins[j]) & 0xFF);
                if (j < 4) {
                    packed[j] = (byte) ls;
                    packed[j + 4] = (byte) lm;
                } else {
                    packed[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                    packed[j - 4] |= (byte) ((ls >> 4) << 6);
                    packed[j] |= (byte) ((lm >> 4) << 6);
                }
            }
            long block = offset + (long) b * blockBytes;
            short dBits = Half.floatToF16(maxScale / 63.f);
            short dminBits = Half.floatToF16(maxMin / 63.f);
            dst.set(ValueLayouts.I16, block, dBits);
            dst.set(ValueLayouts.I16, block + 2, dminBits);
            MemorySegment.copy(packed, 0, dst, ValueLayout.JAVA_BYTE, block + 4, 12);
            float d16 = Half.f16ToFloat(dBits);
            float dmin16 = Half.f16ToFloat(dminBits);
            for (int j = 0; j < 8; j++) {
                float d = d16 * KQuantMath.scaleK4(j, packed);
                if (d == 0) {
                    continue;
                }
                float dm = dmin16 * KQuantMath.minK4(j, packed);
                search.offsetLevels(src, x + 32 * j, dm, d, nmax, levels, 32 * j, 32);
            }
            if (nmax == 15) {
                for (int j = 0; j < QK; j += 64) {
                    for (int l = 0; l < 32; l++) {
                        nibbles[j / 2 + l] = (byte) (levels[j + l] | (levels[j + l + 32] << 4));
                    }
                }
                MemorySegment.copy(nibbles, 0, dst, ValueLayout.JAVA_BYTE, block + 16, nibbles.length);
            } else {
                Q5_KFormat.packLevels(levels, dst, block);
            }
        }
    }
}
