package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * GGML IQ4_NL: 32 weights per 18-byte block, {@code d} (F16) and 16 bytes of 4-bit indices into a fixed
 * non-linear grid ({@code kvalues_iq4nl}, −127..113); weight = d·grid[index].
 */
public final class IQ4_NLFormat implements BlockFormat, ScalarTwin {
    static final int QK = 32;
    static final int BLOCK_BYTES = 18;
    /** Sixteen bytes: one IQ4 block's packed indices, and the grid as a one-register table (a pshufb). */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final ByteVector GRID = ByteVector.fromArray(B16, KQuantMath.IQ4NL_VALUES, 0);
    /** Float vectors per 16 looked-up bytes. */
    static final int PARTS = 16 / LANES;

    /** Grid values of the low nibbles of {@code q}'s 16 bytes (weights 0..15 of the block). */
    static ByteVector lowValues(ByteVector q) {
        return q.and((byte) 0x0F).selectFrom(GRID);
    }

    /** Grid values of the high nibbles (weights 16..31); the shift runs in 16-bit lanes, x86 has no byte shifts. */
    static ByteVector highValues(ByteVector q) {
        return q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, (short) 4).reinterpretAsBytes().and((byte) 0x0F)
                .selectFrom(GRID);
    }

    /** Moves bytes 8..15 to lanes 0..7, so that part 1 widens from lane 0 (faster than widening from lane 8). */
    private static final VectorShuffle<Byte> UPPER_HALF = VectorShuffle.fromOp(B16, i -> (i + 8) & 15);

    /** Part {@code p} ({@link #LANES} lanes) of sixteen grid values, as floats. */
    static FloatVector part(ByteVector values, int p) {
        ByteVector v = p == 0 ? values : values.rearrange(UPPER_HALF);
        return QuantVectors.toFloat((IntVector) v.castShape(QuantVectors.I, 0));
    }

    /** Writes scale·grid[index] for one 32-weight block of packed indices at {@code at} to {@code dst[y..y+32)}. */
    static void blockDequantize(MemorySegment data, long at, float scale, float[] dst, int y) {
        ByteVector q = ByteVector.fromMemorySegment(B16, data, at, QuantVectors.LE);
        ByteVector lo = lowValues(q);
        ByteVector hi = highValues(q);
        FloatVector d = FloatVector.broadcast(F, scale);
        for (int p = 0; p < PARTS; p++) {
            d.mul(part(lo, p)).intoArray(dst, y + p * LANES);
            d.mul(part(hi, p)).intoArray(dst, y + 16 + p * LANES);
        }
    }

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_NL;
    }

    @Override
    public void dequantizeScalar(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            float d = QuantVectors.f16(data, block);
            int y = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = QuantVectors.u8(data, block + 2 + j);
                dst[y + j] = d * KQuantMath.IQ4NL_VALUES[q & 0xF];
                dst[y + j + QK / 2] = d * KQuantMath.IQ4NL_VALUES[q >> 4];
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
            blockDequantize(data, block + 2, QuantVectors.f16(data, block), dst, dstOffset + b * QK);
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
            int xb = xOffset + b * QK;
            ByteVector q = ByteVector.fromMemorySegment(B16, data, block + 2, QuantVectors.LE);
            ByteVector lo = lowValues(q);
            ByteVector hi = highValues(q);
            FloatVector s0 = part(lo, 0).mul(QuantVectors.x(x, xb));
            FloatVector s1 = part(hi, 0).mul(QuantVectors.x(x, xb + 16));
            for (int p = 1; p < PARTS; p++) {
                s0 = part(lo, p).fma(QuantVectors.x(x, xb + p * LANES), s0);
                s1 = part(hi, p).fma(QuantVectors.x(x, xb + 16 + p * LANES), s1);
            }
            FloatVector d = FloatVector.broadcast(F, QuantVectors.f16(data, block));
            acc0 = s0.fma(d, acc0);
            acc1 = s1.fma(d, acc1);
        }
        return IntLanes.sum(acc0.add(acc1));
    }

    /** Eight rows interleaved, as llama.cpp repacks IQ4_NL on AVX2 machines. */
    @Override
    public java.util.Optional<dev.isthmus.core.tensor.RowGroupLayout> rowGroups() {
        return java.util.Optional.of(ROW_GROUPS);
    }

    private static final IQ4_NLRowGroups ROW_GROUPS = new IQ4_NLRowGroups();

    /** llama.cpp multiplies IQ4_NL weights with Q8_0 activation blocks. */
    @Override
    public void roundActivations(float[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        checkBlocks(count);
        ActivationRounding.q8_0(src, srcOffset, dst, dstOffset, count);
    }

    @Override
    public boolean roundsActivations() {
        return true;
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    /**
     * Bit-exact with {@code quantize_iq4_nl} as llama.cpp's quantizer calls it (no importance matrix,
     * 7 tries each side; {@code quantize_row_iq4_nl_ref} tries none and gives different bytes).
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long offset, int count) {
        checkBlocks(count);
        Iq4Encoder encoder = new Iq4Encoder(QK);
        int blocks = count / QK;
        // The scale searches eight blocks at a time (one per vector lane), then each block's levels.
        for (int first = 0; first < blocks; first += KQuantLanes.LANES) {
            int nb = Math.min(KQuantLanes.LANES, blocks - first);
            encoder.searchScales(src, srcOffset + first * QK, nb, Iq4Encoder.NTRY);
            for (int ib = 0; ib < nb; ib++) {
                int b = first + ib;
                encoder.finishBlock(src, srcOffset + b * QK, ib, Iq4Encoder.NTRY);
                long block = offset + (long) b * BLOCK_BYTES;
                dst.set(ValueLayouts.I16, block, encoder.dh);
                for (int i = 0; i < QK / 2; i++) {
                    dst.set(ValueLayouts.I8, block + 2 + i, encoder.packed(i));
                }
            }
        }
    }
}
