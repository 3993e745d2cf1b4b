package dev.isthmus.quant;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.Half;
import dev.isthmus.core.tensor.IntLanes;
import dev.isthmus.core.tensor.QuantizedActivations;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API species and small helpers shared by the format kernels.
 *
 * <p>Every kernel works on {@link #LANES} floats at a time and loads the matching number of packed
 * bytes with {@link #B}; block layouts are written for lane counts that divide 16 (8 on AVX2, 16 on
 * AVX-512). On narrower machines ({@link #VECTORIZED} false) the formats fall back to their scalar twins.
 */
final class QuantVectors {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int LANES = F.length();
    /** Bytes with as many lanes as {@link #F}: one packed byte per output float. */
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));
    /** Ints with as many lanes as {@link #F}: the domain the kernels unpack bit fields in. */
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** Whether the block kernels can run: 8 or 16 float lanes. */
    static final boolean VECTORIZED = (LANES == 8 || LANES == 16) && B.length() == LANES && I.length() == LANES;
    /** 0, 1, …, LANES−1: per-lane shift counts that spread one bit field over the lanes. */
    static final IntVector IOTA = IntVector.zero(I).addIndex(1);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private QuantVectors() {
    }

    /** {@link #LANES} bytes at {@code offset}. */
    static ByteVector bytes(MemorySegment data, long offset) {
        return ByteVector.fromMemorySegment(B, data, offset, LE);
    }

    /**
     * {@link #LANES} bytes at {@code offset}, sign-extended to ints. Bit-field work happens in int lanes:
     * x86 has no byte shifts, and a narrow load widened once measures faster than a wide load split in parts.
     */
    static IntVector ints(MemorySegment data, long offset) {
        return (IntVector) ByteVector.fromMemorySegment(B, data, offset, LE).castShape(I, 0);
    }

    /** Int lanes to floats (exact: the kernels' ints are small). */
    static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.castShape(F, 0);
    }

    /** Bits 4..7 of each (sign-extended byte) lane. */
    static IntVector highNibble(IntVector v) {
        return v.lanewise(VectorOperators.ASHR, 4).and(0x0F);
    }

    /** Widens byte lanes (signed) to floats. */
    static FloatVector toFloat(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    static FloatVector x(float[] x, int offset) {
        return FloatVector.fromArray(F, x, offset);
    }

    /** Sixteen bytes at {@code offset}, sign-extended to the 16 lanes of {@link IntLanes#S}. */
    static ShortVector shorts16(MemorySegment data, long offset) {
        return (ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, data, offset, LE)
                .convertShape(VectorOperators.B2S, IntLanes.S, 0);
    }

    /**
     * The 16 bytes of a 32-weight nibble block (byte j: weight j low, weight j + 16 high) spread so that byte b
     * of the result holds weight b's nibble, viewed as 16-bit lanes of weight pairs (2m, 2m+1): the element
     * order of llama.cpp's {@code bytes_from_nibbles_32}.
     */
    static ShortVector nibblesInOrder(MemorySegment data, long offset) {
        return ((IntVector) IntVector.fromMemorySegment(IntVector.SPECIES_128, data, offset, LE)
                .reinterpretShape(IntLanes.I, 0)).rearrange(BOTH_HALVES)
                .lanewise(VectorOperators.LSHR, NIBBLE_SHIFT).and(0x0F0F_0F0F).reinterpretAsShorts();
    }

    /** Byte b of the result is 16 where bit b of {@code qh} is set (llama.cpp's {@code bytes_from_bits_32}, masked). */
    static ShortVector fifthBits(int qh) {
        // Lane k takes bits 4k..4k+3 and spreads them over its four bytes: b·0x00204081 puts bit i at bit 8i.
        return IntVector.broadcast(IntLanes.I, qh).lanewise(VectorOperators.LSHR, FOUR_BIT_SHIFT).and(0xF)
                .mul(0x0020_4081).and(0x0101_0101).lanewise(VectorOperators.LSHL, 4).reinterpretAsShorts();
    }

    /** Lanes 0-3 and 4-7 both take the block's four 32-bit words. */
    private static final VectorShuffle<Integer> BOTH_HALVES = VectorShuffle.fromValues(IntLanes.I, 0, 1, 2, 3, 0, 1, 2, 3);
    /** Low nibbles in the first half (weights 0-15), high nibbles in the second (16-31). */
    private static final IntVector NIBBLE_SHIFT = IntVector.fromArray(IntLanes.I, new int[] {0, 0, 0, 0, 4, 4, 4, 4}, 0);
    private static final IntVector FOUR_BIT_SHIFT = IntVector.fromArray(IntLanes.I, new int[] {0, 4, 8, 12, 16, 20, 24, 28}, 0);

    /**
     * Σ over the 32-bit lanes' pairs of 16-bit lanes: weight pairs (even, odd) times the even and odd activation
     * levels at {@code at}, each weight level less {@code offset} — lane k sums weights 4k … 4k+3.
     */
    static IntVector pairSums(ShortVector levelsInOrder, int offset, short[] levels, int at) {
        ShortVector even = levelsInOrder.and((short) 0xFF);
        ShortVector odd = levelsInOrder.lanewise(VectorOperators.LSHR, (short) 8);
        if (offset != 0) {
            even = even.sub((short) offset);
            odd = odd.sub((short) offset);
        }
        return IntLanes.addHalves(even.mul(ShortVector.fromArray(IntLanes.S, levels, at))
                .add(odd.mul(ShortVector.fromArray(IntLanes.S, levels, at + 16))).reinterpretAsInts());
    }

    /**
     * Eight F16 values as floats, exactly: 32-bit lane r of the 256-bit vector at {@code at} holds two halves, and
     * {@code half} (0: low, 1: high) picks one. The low halves are shifted up so both are read from the high
     * halves; sign, exponent and mantissa moved to float's positions are the value × 2^-112 for every finite half,
     * subnormals included. Integer lane operations only: row-group kernels avoid lane conversions.
     */
    static FloatVector f16Lanes(MemorySegment data, long at, int half) {
        IntVector halves = IntVector.fromMemorySegment(IntLanes.I, data, at, LE).lanewise(VectorOperators.LSHL, 16 - 16 * half);
        return halves.lanewise(VectorOperators.LSHR, 3).and(0x7FFF << 13).or(halves.and(0x8000_0000))
                .reinterpretAsFloats().mul(0x1p112f);
    }

    static float f16(MemorySegment data, long offset) {
        return Half.f16ToFloat(data.get(ValueLayouts.I16, offset));
    }

    static int u8(MemorySegment data, long offset) {
        return data.get(ValueLayouts.I8, offset) & 0xFF;
    }

    /**
     * The scalar twin shared by every format: dequantize one block at a time (the format's oracle) and
     * accumulate in float, in element order.
     */
    static float scalarDot(dev.isthmus.core.tensor.BlockFormat format, MemorySegment data, long offset, float[] x,
                           int xOffset, int count) {
        format.checkBlocks(count);
        int qk = format.blockSize();
        float[] block = new float[qk];
        float sum = 0f;
        for (int b = 0; b < count / qk; b++) {
            long at = offset + (long) b * format.bytesPerBlock();
            if (format instanceof ScalarTwin twin) {
                twin.dequantizeScalar(data, at, block, 0, qk);
            } else {
                format.dequantize(data, at, block, 0, qk);
            }
            for (int j = 0; j < qk; j++) {
                sum += block[j] * x[xOffset + b * qk + j];
            }
        }
        return sum;
    }
}
