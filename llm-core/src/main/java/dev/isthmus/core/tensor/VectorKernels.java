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
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(count);
        for (; i < bound; i += F.length()) {
            FloatVector w = FloatVector.fromMemorySegment(F, data, offset + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = w.fma(FloatVector.fromArray(F, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += data.get(ValueLayouts.F32, offset + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    /** Dot product of two float arrays. */
    static float dot(float[] a, int aOffset, float[] b, int bOffset, int count) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(count);
        for (; i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOffset + i).fma(FloatVector.fromArray(F, b, bOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += a[aOffset + i] * b[bOffset + i];
        }
        return sum;
    }

    /** Widens {@link #F}-many binary16 values to floats: exact for normals, subnormals, infinities, NaN. */
    static FloatVector f16ToFloat(ShortVector h) {
        IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = bits.and(0x7FFF);
        // Shifting the 15 magnitude bits into a float's exponent/mantissa gives value × 2^-112 exactly,
        // for subnormal halves too; multiplying by 2^112 restores it.
        FloatVector scaled = magnitude.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(TWO_POW_112);
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7C00);
        // Infinities and NaNs; NaNs come out quiet, as the JDK's (hardware) conversion makes them.
        IntVector specialBits = magnitude.lanewise(VectorOperators.LSHL, 13).or(0x7F80_0000);
        specialBits = specialBits.blend(specialBits.or(0x0040_0000), magnitude.compare(VectorOperators.GT, 0x7C00));
        IntVector result = scaled.reinterpretAsInts().blend(specialBits, special);
        IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return result.or(sign).reinterpretAsFloats();
    }

    static float dotF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(count);
        for (; i < bound; i += F.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            acc = f16ToFloat(h).fma(FloatVector.fromArray(F, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += Half.f16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    static float dotBF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(count);
        for (; i < bound; i += F.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            FloatVector w = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc = w.fma(FloatVector.fromArray(F, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < count; i++) {
            sum += Half.bf16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    static float dotQ8_0(MemorySegment data, long offset, float[] x, int xOffset, int count) {
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
}
