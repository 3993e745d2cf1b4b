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
    /**
     * A half's five exponent bits where {@code (half << 16) >> 3} (arithmetic) puts them: all set for infinities
     * and NaNs. The shifted form is also the float whose value × 2^112 is the half's, once bits 28–30 (copies of
     * the sign) are cleared.
     */
    private static final int HALF_EXPONENT_SHIFTED = 0x0F80_0000;

    private VectorKernels() {
    }

    /**
     * Dot product of little-endian floats in {@code data} with {@code x}, in llama.cpp's summation order:
     * lengths that are a multiple of 8 as its tinyBLAS kernel (one 8-lane FMA accumulator, reduced as
     * {@link IntLanes#sumLanes}), others as {@code ggml_vec_dot_f32} (four accumulators over steps of 32,
     * reduced pairwise, the tail added in order).
     */
    static float dotF32(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        if (F.length() != 8) {
            return dotF32Generic(data, offset, x, xOffset, count);
        }
        if (count % 8 == 0) {
            FloatVector acc = FloatVector.zero(F);
            for (int i = 0; i < count; i += 8) {
                acc = FloatVector.fromMemorySegment(F, data, offset + 4L * i, ByteOrder.LITTLE_ENDIAN)
                        .fma(FloatVector.fromArray(F, x, xOffset + i), acc);
            }
            return IntLanes.sumLanes(acc);
        }
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        FloatVector s2 = FloatVector.zero(F);
        FloatVector s3 = FloatVector.zero(F);
        int whole = count & ~31;
        for (int i = 0; i < whole; i += 32) {
            long o = offset + 4L * i;
            int xo = xOffset + i;
            s0 = FloatVector.fromMemorySegment(F, data, o, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xo), s0);
            s1 = FloatVector.fromMemorySegment(F, data, o + 32, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xo + 8), s1);
            s2 = FloatVector.fromMemorySegment(F, data, o + 64, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xo + 16), s2);
            s3 = FloatVector.fromMemorySegment(F, data, o + 96, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xo + 24), s3);
        }
        float sum = pairwiseSum(s0.add(s2).add(s1.add(s3)));
        for (int i = whole; i < count; i++) {
            sum += data.get(ValueLayouts.F32, offset + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    /** ggml's {@code GGML_F32x8_REDUCE} tail: lanes i and i+4 added, then two horizontal adds. */
    private static float pairwiseSum(FloatVector v) {
        float t0 = v.lane(0) + v.lane(4);
        float t1 = v.lane(1) + v.lane(5);
        float t2 = v.lane(2) + v.lane(6);
        float t3 = v.lane(3) + v.lane(7);
        return (t0 + t1) + (t2 + t3);
    }

    /**
     * {@link #dotF32} of four rows (byte offsets {@code o0..o3}) into {@code out[outOffset..+4)}, each row's sum
     * in the same order as one row at a time: the rows' four FMA chains interleave, hiding the FMA latency
     * that bounds a single row's chain. Only for lengths that are a multiple of 8 with 8-lane vectors.
     */
    static void dotF32x4(MemorySegment data, long o0, long o1, long o2, long o3, float[] x, int xOffset, int count,
                         float[] out, int outOffset) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int i = 0; i < count; i += 8) {
            FloatVector xv = FloatVector.fromArray(F, x, xOffset + i);
            a0 = FloatVector.fromMemorySegment(F, data, o0 + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(F, data, o1 + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(F, data, o2 + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(F, data, o3 + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(xv, a3);
        }
        out[outOffset] = IntLanes.sumLanes(a0);
        out[outOffset + 1] = IntLanes.sumLanes(a1);
        out[outOffset + 2] = IntLanes.sumLanes(a2);
        out[outOffset + 3] = IntLanes.sumLanes(a3);
    }

    /** {@link #dotBF16}'s four-row form, as {@link #dotF32x4}. */
    static void dotBF16x4(MemorySegment data, long o0, long o1, long o2, long o3, float[] x, int xOffset, int count,
                          float[] out, int outOffset) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int i = 0; i < count; i += 8) {
            FloatVector xv = FloatVector.fromArray(F, x, xOffset + i);
            a0 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o0 + 2L * i, ByteOrder.LITTLE_ENDIAN)).fma(xv, a0);
            a1 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o1 + 2L * i, ByteOrder.LITTLE_ENDIAN)).fma(xv, a1);
            a2 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o2 + 2L * i, ByteOrder.LITTLE_ENDIAN)).fma(xv, a2);
            a3 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o3 + 2L * i, ByteOrder.LITTLE_ENDIAN)).fma(xv, a3);
        }
        out[outOffset] = IntLanes.sumLanes(a0);
        out[outOffset + 1] = IntLanes.sumLanes(a1);
        out[outOffset + 2] = IntLanes.sumLanes(a2);
        out[outOffset + 3] = IntLanes.sumLanes(a3);
    }

    /** Whether the four-row kernels apply: 8-lane floats and a length that is a multiple of 8. */
    static boolean fourRows(int count) {
        return F.length() == 8 && count % 8 == 0;
    }

    private static float dotF32Generic(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(count); i < bound; i += F.length()) {
            acc = FloatVector.fromMemorySegment(F, data, offset + 4L * i, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, xOffset + i), acc);
        }
        float sum = IntLanes.sum(acc);
        for (; i < count; i++) {
            sum += data.get(ValueLayouts.F32, offset + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    /** Dot product of two float arrays. */

    /** Widens {@link #F}-many binary16 values to floats: exact for normals, subnormals, infinities, NaN. */
    static FloatVector f16ToFloat(ShortVector h) {
        // Sign-extended, so bit 31 already holds the half's sign.
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
        return result.or(bits.and(0x8000_0000)).reinterpretAsFloats();
    }

    /**
     * F16 dot product in llama.cpp's summation order, so that decode tracks it to the last bit where the
     * other operands agree: rows whose length is a multiple of 8 go through its tinyBLAS kernel there (one
     * 8-lane accumulator, reduced as {@link IntLanes#sumLanes}), other lengths through {@code ggml_vec_dot_f16}
     * (four accumulators over steps of 32, reduced pairwise, the tail added in double).
     */
    static float dotF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        if (F.length() != 8) {
            return dotF16Generic(data, offset, x, xOffset, count);
        }
        if (count % 8 == 0) {
            // Finite halves widened without the per-vector check for infinities and NaNs (a compare and a test
            // per eight weights): their exponent bits are gathered with a lane-wise max and checked once, and a
            // row holding one is summed again with the exact widening. Same products, same order.
            FloatVector acc = FloatVector.zero(F);
            IntVector exponents = IntVector.zero(I);
            for (int i = 0; i < count; i += 8) {
                IntVector t = ((IntVector) ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, 3);
                exponents = exponents.max(t.and(HALF_EXPONENT_SHIFTED));
                acc = t.and(0x8FFF_E000).reinterpretAsFloats().mul(TWO_POW_112)
                        .fma(FloatVector.fromArray(F, x, xOffset + i), acc);
            }
            if (exponents.reduceLanes(VectorOperators.MAX) == HALF_EXPONENT_SHIFTED) {
                acc = FloatVector.zero(F);
                for (int i = 0; i < count; i += 8) {
                    ShortVector h = ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
                    acc = f16ToFloat(h).fma(FloatVector.fromArray(F, x, xOffset + i), acc);
                }
            }
            return IntLanes.sumLanes(acc);
        }
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        FloatVector s2 = FloatVector.zero(F);
        FloatVector s3 = FloatVector.zero(F);
        int whole = count & ~31;
        for (int i = 0; i < whole; i += 32) {
            long o = offset + 2L * i;
            int xo = xOffset + i;
            s0 = f16ToFloat(ShortVector.fromMemorySegment(S, data, o, ByteOrder.LITTLE_ENDIAN)).fma(FloatVector.fromArray(F, x, xo), s0);
            s1 = f16ToFloat(ShortVector.fromMemorySegment(S, data, o + 16, ByteOrder.LITTLE_ENDIAN)).fma(FloatVector.fromArray(F, x, xo + 8), s1);
            s2 = f16ToFloat(ShortVector.fromMemorySegment(S, data, o + 32, ByteOrder.LITTLE_ENDIAN)).fma(FloatVector.fromArray(F, x, xo + 16), s2);
            s3 = f16ToFloat(ShortVector.fromMemorySegment(S, data, o + 48, ByteOrder.LITTLE_ENDIAN)).fma(FloatVector.fromArray(F, x, xo + 24), s3);
        }
        double sum = pairwiseSum(s0.add(s2).add(s1.add(s3)));
        for (int i = whole; i < count; i++) {
            sum += Half.f16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return (float) sum;
    }

    private static float dotF16Generic(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(count); i < bound; i += l) {
            ShortVector h = ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            a0 = f16ToFloat(h).fma(FloatVector.fromArray(F, x, xOffset + i), a0);
        }
        float sum = IntLanes.sum(a0);
        for (; i < count; i++) {
            sum += Half.f16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    /**
     * BF16 dot product in llama.cpp's order: lengths that are a multiple of 8 as its AVX2 tinyBLAS kernel
     * (one FMA accumulator, {@link IntLanes#sumLanes}), others as {@code ggml_vec_dot_bf16} (products added
     * without FMA into four accumulators over steps of 32, the tail in double).
     */
    static float dotBF16(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        if (F.length() != 8) {
            return dotBF16Generic(data, offset, x, xOffset, count);
        }
        if (count % 8 == 0) {
            FloatVector acc = FloatVector.zero(F);
            for (int i = 0; i < count; i += 8) {
                acc = bf16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN))
                        .fma(FloatVector.fromArray(F, x, xOffset + i), acc);
            }
            return IntLanes.sumLanes(acc);
        }
        FloatVector c1 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        FloatVector c4 = FloatVector.zero(F);
        int whole = count & ~31;
        for (int i = 0; i < whole; i += 32) {
            long o = offset + 2L * i;
            int xo = xOffset + i;
            c1 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o, ByteOrder.LITTLE_ENDIAN)).mul(FloatVector.fromArray(F, x, xo)).add(c1);
            c2 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o + 16, ByteOrder.LITTLE_ENDIAN)).mul(FloatVector.fromArray(F, x, xo + 8)).add(c2);
            c3 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o + 32, ByteOrder.LITTLE_ENDIAN)).mul(FloatVector.fromArray(F, x, xo + 16)).add(c3);
            c4 = bf16ToFloat(ShortVector.fromMemorySegment(S, data, o + 48, ByteOrder.LITTLE_ENDIAN)).mul(FloatVector.fromArray(F, x, xo + 24)).add(c4);
        }
        double sum = IntLanes.sumLanes(c1.add(c3).add(c2.add(c4)));
        for (int i = whole; i < count; i++) {
            sum += Half.bf16ToFloat(data.get(ValueLayouts.I16, offset + 2L * i)) * x[xOffset + i];
        }
        return (float) sum;
    }

    private static float dotBF16Generic(MemorySegment data, long offset, float[] x, int xOffset, int count) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(count); i < bound; i += F.length()) {
            acc = bf16ToFloat(ShortVector.fromMemorySegment(S, data, offset + 2L * i, ByteOrder.LITTLE_ENDIAN))
                    .fma(FloatVector.fromArray(F, x, xOffset + i), acc);
        }
        float sum = IntLanes.sum(acc);
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
        return IntLanes.sum(acc.add(acc2));
    }

    /**
     * Q8_0 weights × Q8_0 activations in integers, computed as llama.cpp's AVX2 kernel computes them: each
     * 32-bit lane sums the exact products of four consecutive elements (4k … 4k+3), the eight lane sums are
     * scaled by d_w × d_x into one float accumulator, block after block, and reduced in
     * {@link IntLanes#sumLanes}'s order — so the float rounding matches too.
     *
     * <p>A block's 32 bytes viewed as 16 shorts hold the element pairs (2m, 2m+1); the low and high bytes
     * are multiplied with the activations' even and odd levels (stored split, see
     * {@link QuantizedActivations#quantizeQ8_0}), the two 16-bit products of a pair added (exact: at most
     * 2 × 128 × 127), and the two pairs of each 32-bit lane added.
     */
    static float dotQ8_0Quantized(MemorySegment data, long offset, short[] levels, float[] scales, int xOffset,
                                  int count) {
        FloatVector acc = FloatVector.zero(IntLanes.F);
        int blocks = count / 32;
        int xBlock = xOffset / 32;
        for (int b = 0; b < blocks; b++) {
            long block = offset + 34L * b;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block)) * scales[xBlock + b];
            int xo = xOffset + b * 32;
            ShortVector w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, data, block + 2, ByteOrder.LITTLE_ENDIAN)
                    .reinterpretAsShorts();
            ShortVector even = w.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
            ShortVector odd = w.lanewise(VectorOperators.ASHR, 8);
            IntVector pairs = even.mul(ShortVector.fromArray(IntLanes.S, levels, xo))
                    .add(odd.mul(ShortVector.fromArray(IntLanes.S, levels, xo + 16)))
                    .reinterpretAsInts();
            acc = IntLanes.toFloat(IntLanes.addHalves(pairs)).fma(FloatVector.broadcast(IntLanes.F, d), acc);
        }
        return IntLanes.sumLanes(acc);
    }

    /** {@link #dotQ8_0Quantized} for two activation rows, the weights split into even and odd bytes once. */
    static void dotQ8_0Quantized2(MemorySegment data, long offset, short[] levels, float[] scales, int x0, int x1,
                                  int count, float[] out, int out0, int out1) {
        FloatVector acc0 = FloatVector.zero(IntLanes.F);
        FloatVector acc1 = FloatVector.zero(IntLanes.F);
        int blocks = count / 32;
        for (int b = 0; b < blocks; b++) {
            long block = offset + 34L * b;
            float d = Half.f16ToFloat(data.get(ValueLayouts.I16, block));
            ShortVector w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, data, block + 2, ByteOrder.LITTLE_ENDIAN)
                    .reinterpretAsShorts();
            ShortVector even = w.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
            ShortVector odd = w.lanewise(VectorOperators.ASHR, 8);
            int a = x0 + b * 32;
            int c = x1 + b * 32;
            IntVector p0 = even.mul(ShortVector.fromArray(IntLanes.S, levels, a))
                    .add(odd.mul(ShortVector.fromArray(IntLanes.S, levels, a + 16))).reinterpretAsInts();
            IntVector p1 = even.mul(ShortVector.fromArray(IntLanes.S, levels, c))
                    .add(odd.mul(ShortVector.fromArray(IntLanes.S, levels, c + 16))).reinterpretAsInts();
            acc0 = IntLanes.toFloat(IntLanes.addHalves(p0)).fma(FloatVector.broadcast(IntLanes.F, d * scales[a / 32]), acc0);
            acc1 = IntLanes.toFloat(IntLanes.addHalves(p1)).fma(FloatVector.broadcast(IntLanes.F, d * scales[c / 32]), acc1);
        }
        out[out0] = IntLanes.sumLanes(acc0);
        out[out1] = IntLanes.sumLanes(acc1);
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
            sum += d * IntLanes.sum(acc);
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
