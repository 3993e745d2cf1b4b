package dev.isthmus.quant;

import static dev.isthmus.quant.QuantVectors.B;
import static dev.isthmus.quant.QuantVectors.F;
import static dev.isthmus.quant.QuantVectors.LANES;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML IQ4_NL: 32 weights per 18-byte block, {@code d} (F16) and 16 bytes of 4-bit indices into a fixed
 * non-linear grid ({@code kvalues_iq4nl}, −127..113); weight = d·grid[index].
 */
public final class IQ4_NLFormat implements BlockFormat {
    static final int QK = 32;
    static final int BLOCK_BYTES = 18;
    /** The grid split into two lane-sized tables: a two-table select looks up 16 entries with 8 lanes. */
    static final ByteVector GRID_LO = grid(0);
    static final ByteVector GRID_HI = grid(1);

    private static ByteVector grid(int half) {
        byte[] table = new byte[B.length()];
        for (int i = 0; i < table.length; i++) {
            int index = half * B.length() + i;
            table[i] = index < 16 ? KQuantMath.IQ4NL_VALUES[index] : 0;
        }
        return ByteVector.fromArray(B, table, 0);
    }

    /** Grid values for the 4-bit indices in {@code index}'s lanes. */
    static ByteVector lookup(ByteVector index) {
        return index.selectFrom(GRID_LO, GRID_HI);
    }

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_NL;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
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
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        checkBlocks(count);
        if (!QuantVectors.VECTORIZED) {
            return QuantVectors.scalarDot(this, data, offset, x, xOffset, count);
        }
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < count / QK; b++) {
            long block = offset + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * QK;
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0; j < QK / 2; j += LANES) {
                ByteVector q = QuantVectors.bytes(data, block + 2 + j);
                sum = QuantVectors.toFloat(lookup(q.and((byte) 0x0F))).fma(QuantVectors.x(x, xb + j), sum);
                sum = QuantVectors.toFloat(lookup(q.lanewise(VectorOperators.LSHR, 4)))
                        .fma(QuantVectors.x(x, xb + QK / 2 + j), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, QuantVectors.f16(data, block)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

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
        for (int b = 0; b < count / QK; b++) {
            encoder.encode(src, srcOffset + b * QK, QK, Iq4Encoder.NTRY);
            long block = offset + (long) b * BLOCK_BYTES;
            dst.set(ValueLayouts.I16, block, encoder.dh);
            for (int i = 0; i < QK / 2; i++) {
                dst.set(ValueLayouts.I8, block + 2 + i, encoder.packed(i));
            }
        }
    }
}
