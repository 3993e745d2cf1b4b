package dev.isthmus.core.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** Vector API building blocks shared by the core formats. */
final class VectorKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as {@link #F}. */
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** Bytes with as many lanes as {@link #F}. */
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 4));
    private static final float TWO_POW_112 = 0x1p112f;

    private VectorKernels() {
    }

    /** Dot product of little-endian floats in {@code data} with {@code x}. */
    static float dotF32(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        // Four independent accumulators hide the FMA latency.
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int i = 0;
        for (int bound = count - 4 * l; i <= bound; i += 4 * l) {
            long o = offset + 4L * i;
            a0 = FloatVector.fromMemorySegment(F, data, o, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
            a1 = FloatVector.fromMemorySegment(F, data, o + 4L * l, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOffset + i + l), a1);
            a2 = FloatVector.fromMemorySegment(F, data, o + 8L * l, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOffset + i + 2 * l), a2);
            a3 = FloatVector.fromMemorySegment(F, data, o + 12L * l, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOffset + i + 3 * l), a3);
        }
        for (int bound = F.loopBound(count); i < bound; i += l) {
            a0 = FloatVector.fromMemorySegment(F, data, offset + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
        }
        float sum = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += data.get(ValueLayouts.F32, offset + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    /** Dot product of two float arrays. */

    /** Widens {@link #F}-many binary16 values to floats: exact for normals, subnormals, infinities, NaN. */
    static FloatVector f16ToFloat(ShortVector h) {
        IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = bits.and(0x7FFF);
        // Shifting the 15 magnitude bits into a float's exponent/mantissa gives value × 2^-112 exactly,
        // for subnormal halves too; multiplying by 2^112 restores it.
        IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
        IntVector result = shifted.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts();
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7C00);
        if (special.anyTrue()) {
            // Infinities and NaNs (rare in weights); NaNs come out quiet, as the JDK's conversion makes them.
            IntVector specialBits = shifted.or(0x7F80_0000);
            specialBits = specialBits.blend(specialBits.or(0x0040_0000), magnitude.compare(VectorOperators.GT, 0x7C00));
            result = result.blend(specialBits, special);
        }
        IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return result.or(sign).reinterpretAsFloats();
    }

    static float dotF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int i = 0;
        for (int bound = count - 2 * l; i <= bound; i += 2 * l) {
            ShortVector h0 = ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            ShortVector h1 = ShortVector.fromMemorySegment(S, data, offset + 2L * (i + l), ByteOrder.LITTLE_ENDIAN);
            a0 = f16ToFloat(h0).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
            a1 = f16ToFloat(h1).fma(FloatVector.fromArray(F, x, xOffset + i + l), a1);
        }
        float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += Half.f16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    static float dotBF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int i = 0;
        for (int bound = count - 2 * l; i <= bound; i += 2 * l) {
            a0 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN))
                    .fma(FloatVector.fromArray(F, x, xOffset + i), a0);
            a1 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * (i + l), ByteOrder.LITTLE_ENDIAN))
                    .fma(FloatVector.fromArray(F, x, xOffset + i + l), a1);
        }
        float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += Half.bf16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    static FloatVector bf16ToFloat(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    static float dotQ8_0(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        if (F.length() != 8) {
            return dotQ8_0Generic(data, offset, x, xOffset, count);
        }
        // 8-lane floats: one 32-byte load per block, widened in four parts; the block's scale is applied
        // once per block with an FMA into the running sum (no horizontal add inside the loop).
        FloatVector acc = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        int blocks = count / 32;
        for (int b = 0; b < blocks; b++) {
            long block = offset + 34L * b;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            int xo = xOffset + b * 32;
            // Four 8-byte loads widened directly measure faster than one 32-byte load split in four parts.
            FloatVector s = q8(data, block + 2).mul(FloatVector.fromArray(F, x, xo));
            s = q8(data, block + 10).fma(FloatVector.fromArray(F, x, xo + 8), s);
            s = q8(data, block + 18).fma(FloatVector.fromArray(F, x, xo + 16), s);
            s = q8(data, block + 26).fma(FloatVector.fromArray(F, x, xo + 24), s);
            if ((b & 1) == 0) {
                acc = s.fma(FloatVector.broadcast(F, d), acc);
            } else {
                acc2 = s.fma(FloatVector.broadcast(F, d), acc2);
            }
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD);
    }

    /** Eight signed bytes at {@code offset} as eight floats. */
    static FloatVector q8(MemorySegment data, long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, data, offset, ByteOrder.LITTLE_ENDIAN)
                .castShape(F, 0);
    }

    private static float dotQ8_0Generic(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        float sum = 0f;
        int lanes = F.length();
        for (int b = 0; b < count / 32; b++) {
            long block = offset + 34L * b;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < 32; j += lanes) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, data, block + 2 + j, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0);
                acc = q.fma(FloatVector.fromArray(F, x, xOffset + b * 32 + j), acc);
            }
            sum += d * acc.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    /** Vectorised F16 decode of the largest multiple of the lane count; returns how many were done. */
    static int dequantizeF16(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        int i = 0;
        for (int bound = F.loopBound(count); i < bound; i += F.length()) {
            f16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN))
                    .intoArray(dst, dstOffset + i);
        }
        return i;
    }

    static int dequantizeBF16(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        int i = 0;
        for (int bound = F.loopBound(count); i < bound; i += F.length()) {
            bf16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN))
                    .intoArray(dst, dstOffset + i);
        }
        return i;
    }

    /** Vectorised Q8_0 decode (8-lane floats only); false when the caller must use the scalar path. */
    static boolean dequantizeQ8_0(MemorySegment data, long offset, float[] dst, int dstOffset, int count) {
        if (F.length() != 8) {
            return false;
        }
        for (int b = 0; b < count / 32; b++) {
            long block = offset + 34L * b;
            FloatVector d = FloatVector.broadcast(F, Half.f16ToFloat(data.get(ValueLayouts.I16, block)));
            int o = dstOffset + b * 32;
            q8(data, block + 2).mul(d).intoArray(dst, o);
            q8(data, block + 10).mul(d).intoArray(dst, o + 8);
            q8(data, block + 18).mul(d).intoArray(dst, o + 16);
            q8(data, block + 26).mul(d).intoArray(dst, o + 24);
        }
        return true;
    }
}
