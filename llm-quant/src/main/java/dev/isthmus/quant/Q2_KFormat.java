package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q2_K: super-blocks of 256 weights in 84 bytes: 16 bytes of 4-bit (scale, min) pairs, 64 bytes of
 * 2-bit levels, {@code d}, {@code dmin} (F16). Weight 128n + 32j + k, with s = scales[8n + 2j + k/16], is
 * d·(s &amp; 15)·((qs[32n + k] >> 2j) &amp; 3) − dmin·(s >> 4).
 */
public final class Q2_KFormat implements Q8_KActivations, ScalarTwin, IntegerTwin {
    static final int QK = 256;
    static final int BLOCK_BYTES = 84;

    @Override
    public GgmlType type() {
        return GgmlType.Q2_K;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block + 80);
            float min = QuantVectors.f16(data, block + 82);
            for (int n = 0; n < 2; n++) {
                for (int j = 0; j < 4; j++) {
                    for (int half = 0; half < 2; half++) {
                        int sc = QuantVectors.u8(data, block + 8 * n + 2 * j + half);
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) {
                            int k = 16 * half + l;
                            int q = (QuantVectors.u8(data, block + 16 + 32 * n + k) >> (2 * j)) & 3;
                            dst[dstOffset + b * QK + 128 * n + 32 * j + k] = dl * q - ml;
                        }
                    }
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
            float d = QuantVectors.f16(data, block + 80);
            float min = QuantVectors.f16(data, block + 82);
            for (int n = 0; n < 2; n++) {
                long sc8 = data.get(ValueLayouts.I64, block + 8 * n);
                for (int j = 0; j < 4; j++) {
                    for (int half = 0; half < 2; half++) {
                        int sc = (int) (sc8 >>> (8 * (2 * j + half))) & 0xFF;
                        FloatVector dl = FloatVector.broadcast(F, d * (sc & 0xF));
                        FloatVector ml = FloatVector.broadcast(F, min * (sc >> 4));
                        for (int l = 0; l < 16; l += LANES) {
                            int k = 16 * half + l;
                            IntVector q = QuantVectors.ints(data, block + 16 + 32 * n + k)
                                    .lanewise(VectorOperators.ASHR, 2 * j).and(3);
                            QuantVectors.toFloat(q).mul(dl).sub(ml)
                                    .intoArray(dst, dstOffset + b * QK + 128 * n + 32 * j + k);
                        }
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
        // Four independent chains: scaled sums and min terms of the two 16-weight halves of each 32-run.
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        FloatVector accMin0 = FloatVector.zero(F);
        FloatVector accMin1 = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block + 80);
            float min = QuantVectors.f16(data, block + 82);
            for (int n = 0; n < 2; n++) {
                long sc8 = data.get(ValueLayouts.I64, block + 8 * n);
                long qs = block + 16 + 32 * n;
                for (int j = 0; j < 4; j++) {
                    int xs = xOffset + b * QK + 128 * n + 32 * j;
                    FloatVector s0 = FloatVector.zero(F);
                    FloatVector s1 = FloatVector.zero(F);
                    FloatVector x0s = FloatVector.zero(F);
                    FloatVector x1s = FloatVector.zero(F);
                    for (int l = 0; l < 16; l += LANES) {
                        FloatVector x0 = QuantVectors.x(x, xs + l);
                        FloatVector x1 = QuantVectors.x(x, xs + 16 + l);
                        IntVector q0 = QuantVectors.ints(data, qs + l).lanewise(VectorOperators.ASHR, 2 * j).and(3);
                        IntVector q1 = QuantVectors.ints(data, qs + 16 + l).lanewise(VectorOperators.ASHR, 2 * j).and(3);
                        s0 = QuantVectors.toFloat(q0).fma(x0, s0);
                        s1 = QuantVectors.toFloat(q1).fma(x1, s1);
                        x0s = x0s.add(x0);
                        x1s = x1s.add(x1);
                    }
                    int sc0 = (int) (sc8 >>> (16 * j)) & 0xFF;
                    int sc1 = (int) (sc8 >>> (16 * j + 8)) & 0xFF;
                    acc0 = s0.fma(FloatVector.broadcast(F, d * (sc0 & 0xF)), acc0);
                    acc1 = s1.fma(FloatVector.broadcast(F, d * (sc1 & 0xF)), acc1);
                    accMin0 = x0s.fma(FloatVector.broadcast(F, min * (sc0 >> 4)), accMin0);
                    accMin1 = x1s.fma(FloatVector.broadcast(F, min * (sc1 >> 4)), accMin1);
                }
            }
        }
        return IntLanes.sum(acc0.add(acc1).sub(accMin0.add(accMin1)));
    }

    /**
     * Integer kernel in the arithmetic of llama.cpp's {@code ggml_vec_dot_q2_K_q8_K}: per super-block exact
     * integer sums Σ scale × Σ level × activation level and Σ min × (activation sum of the sub-block), then
     * d_w × d_x and −dmin × d_x times each. Each 16-bit lane holds a weight pair (even, odd element) whose levels
     * meet the activations' even and odd halves ({@link QuantizedActivations#evenOddIndex}).
     */
    @Override
    public float dotQuantized(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        return KQuantIntegers.dot(data, offset, x, xOffset, count, BLOCK_BYTES, Q2_KFormat::superBlock);
    }

    /**
     * One super-block into {@code acc} ({@link KQuantIntegers.SuperBlock}): the minimums (from the activation sums
     * of 16), then levels 0..3 times 4-bit scales, both into lanes 0-7.
     */
    private static void superBlock(MemorySegment data, long block, short[] levels, int xb, int[] xSums, int s32,
                                   float dx, float[] acc) {
        int s16 = s32 - ActivationRounding.SUMS_OF_32;
        IntVector sum = IntVector.zero(IntLanes.I);
        for (int n = 0; n < 2; n++) {
            ShortVector qs = ShortVector.fromMemorySegment(IntLanes.S, data, block + 16 + 32 * n, QuantVectors.LE);
            // The half's eight sub-block scales, one per int lane; run j takes 2j (lanes 0-3) and 2j+1 (4-7).
            IntVector sc = ((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, data, block + 8 * n,
                    QuantVectors.LE).convertShape(VectorOperators.B2I, IntLanes.I, 0)).and(0x0F);
            for (int j = 0; j < 4; j++) {
                ShortVector level = qs.lanewise(VectorOperators.LSHR, (short) (2 * j)).and(LOW_PAIRS);
                int at = xb + 128 * n + 32 * j;
                IntVector pairs = level.and(LOW_BYTE).mul(ShortVector.fromArray(IntLanes.S, levels, at))
                        .add(level.lanewise(VectorOperators.LSHR, (short) 8).mul(ShortVector.fromArray(IntLanes.S, levels, at + 16)))
                        .reinterpretAsInts();
                sum = sum.add(IntLanes.addHalves(pairs).mul(sc.rearrange(KQuantIntegers.RUN_SCALES[j])));
            }
        }
        // Int lane i of the 16 scale bytes widened to 16 bits holds sub-blocks 2i (low half) and 2i + 1 (high);
        // their minimums meet the activation sums of 16, stored even sub-blocks first, then odd ones.
        IntVector scales = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, data, block, QuantVectors.LE)
                .convertShape(VectorOperators.B2S, IntLanes.S, 0)).reinterpretAsInts();
        IntVector mins = IntVector.fromArray(IntLanes.I, xSums, s16).mul(scales.lanewise(VectorOperators.LSHR, 4).and(0x0F))
                .add(IntVector.fromArray(IntLanes.I, xSums, s16 + 8).mul(scales.lanewise(VectorOperators.LSHR, 20).and(0x0F)));
        // Both into the same eight lanes, the minimums first, as ggml_vec_dot_q2_K_q8_K adds them.
        FloatVector a = IntLanes.toFloat(mins).fma(FloatVector.broadcast(IntLanes.F, -dx * QuantVectors.f16(data, block + 82)),
                FloatVector.fromArray(IntLanes.F, acc, 0));
        IntLanes.toFloat(sum).fma(FloatVector.broadcast(IntLanes.F, dx * QuantVectors.f16(data, block + 80)), a)
                .intoArray(acc, 0);
    }

    private static final ShortVector LOW_PAIRS = ShortVector.broadcast(IntLanes.S, (short) 0x0303);
    private static final ShortVector LOW_BYTE = ShortVector.broadcast(IntLanes.S, (short) 0xFF);

    @Override
    public float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count) {
        x.requireWholeBlocks(this, xOffset, count);
        float sum = 0f;
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            int dots = 0;
            int minimums = 0;
            for (int i = 0; i < QK; i++) {
                int sc = QuantVectors.u8(data, block + i / 16);
                int q = (QuantVectors.u8(data, block + 16 + 32 * (i / 128) + i % 32) >> (2 * (i % 128 / 32))) & 3;
                short a = x.levels()[QuantizedActivations.evenOddIndex(xb + i)];
                dots += (sc & 0xF) * q * a;
                minimums += (sc >> 4) * a;
            }
            float dx = x.scales()[xb / QK];
            sum += dx * QuantVectors.f16(data, block + 80) * dots - dx * QuantVectors.f16(data, block + 82) * minimums;
        }
        return sum;
    }

    /**
     * Eight rows interleaved ({@link Q2_KRowGroups}). llama.cpp does not repack Q2_K on x86; the group kernel sums
     * the same integers as {@link #dotQuantized} and differs from it only in the order of float additions.
     */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final Q2_KRowGroups ROW_GROUPS = new Q2_KRowGroups();

    @Override
    public boolean canQuantize() {
        return true;
    }

    /** Bit-exact with {@code quantize_row_q2_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        byte[] levels = new byte[QK];
        float[] weights = new float[QK];
        float[] mins = new float[16];
        float[] scales = new float[16];
        byte[] packed = new byte[16];
        KQuantLanes search = new KQuantLanes(16);
        final float q4scale = 15.f;
        for (int b = 0; b < count / QK; b++) {
            int x = srcOffset + b * QK;
            long block = offset + (long) b * BLOCK_BYTES;
            for (int l = 0; l < QK; l++) {
                weights[l] = Math.abs(src[x + l]);
            }
            for (int half = 0; half < 2; half++) {
                search.makeQkx2Quants(3, src, x + 128 * half, weights, 128 * half, levels, 128 * half, scales, mins,
                        8 * half, -0.5f, 0.1f, 15, true);
            }
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 16; j++) {
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            short dBits;
            if (maxScale > 0) {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < 16; j++) {
                    packed[j] = (byte) KQuantMath.nearestInt(iscale * scales[j]);
                }
                dBits = Half.floatToF16(maxScale / q4scale);
            } else {
                java.util.Arrays.fill(packed, (byte) 0);
                dBits = Half.floatToF16(0.f);
            }
            short dminBits;
            if (maxMin > 0) {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < 16; j++) {
                    packed[j] |= (byte) (KQuantMath.nearestInt(iscale * mins[j]) << 4);
                }
                dminBits = Half.floatToF16(maxMin / q4scale);
            } else {
                dminBits = Half.floatToF16(0.f);
            }
            dst.set(ValueLayouts.I16, block + 80, dBits);
            dst.set(ValueLayouts.I16, block + 82, dminBits);
            float d16 = Half.f16ToFloat(dBits);
            float dmin16 = Half.f16ToFloat(dminBits);
            for (int j = 0; j < 16; j++) {
                dst.set(ValueLayouts.I8, block + j, packed[j]);
                float d = d16 * (packed[j] & 0xF);
                if (d == 0) {
                    continue;
                }
                float dm = dmin16 * ((packed[j] & 0xFF) >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuantMath.nearestInt((src[x + 16 * j + ii] + dm) / d);
                    levels[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
                }
            }
            for (int j = 0; j < QK; j += 128) {
                for (int l = 0; l < 32; l++) {
                    dst.set(ValueLayouts.I8, block + 16 + j / 4 + l, (byte) (levels[j + l] | (levels[j + l + 32] << 2)
                            | (levels[j + l + 64] << 4) | (levels[j + l + 96] << 6)));
                }
            }
        }
    }
}
