package dev.isthmus.core.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Building blocks of the integer kernels ({@link BlockFormat#dotQuantized}) shared by core and llm-quant.
 * They work on 256-bit vectors (16 shorts, 8 ints, 8 floats): wide enough for one 32-element block per
 * step, and what AVX2 machines run natively; {@link #AVAILABLE} says whether they run well here.
 *
 * <pre>{@code
 * IntVector sums = IntLanes.addHalves(products.reinterpretAsInts());
 * acc = IntLanes.toFloat(sums).fma(FloatVector.broadcast(IntLanes.F, scale), acc);
 * }</pre>
 */
public final class IntLanes {
    /** Whether the preferred vector shape is at least 256 bits (NEON's 128 would emulate these kernels). */
    public static final boolean AVAILABLE = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    public static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
    public static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_256;

    private IntLanes() {
    }

    /** Each 32-bit lane viewed as two signed 16-bit halves: their sum (x86's pmaddwd with ones). */
    public static IntVector addHalves(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                .add(pairs.lanewise(VectorOperators.ASHR, 16));
    }

    /**
     * Int lanes in [-2^22, 2^22) to float lanes, exactly, with integer arithmetic only: v + 0x4B400000 is the
     * bit pattern of the float 1.5·2^23 + v, from which 1.5·2^23 is then subtracted. Unlike {@link #toFloat} it
     * compiles to two plain lane operations — no conversion, whose profile every caller shares, and few enough
     * nodes that a kernel near C2's inlining budget keeps it inline (a conversion left out of line is boxed).
     */
    public static FloatVector smallToFloat(IntVector v) {
        return v.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
    }

    /** Int lanes to float lanes (exact below 2^24, which every kernel's block sums are). */
    public static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    /**
     * The lanes of a vector of any length summed in a fixed order (for 8 lanes {@link #sumLanes}'s), so a
     * kernel gives the same float before and after C2 compiles it: the Vector API's own
     * {@code reduceLanes(ADD)} adds in another order in its Java fallback than in its intrinsic.
     */
    public static float sum(FloatVector v) {
        if (v.length() == 8) {
            return sumLanes(v);
        }
        float sum = 0f;
        for (int i = 0; i < v.length(); i++) {
            sum += v.lane(i);
        }
        return sum;
    }

    /** The eight lanes summed in ggml's {@code hsum_float_8} order: ((0+4)+(2+6)) + ((1+5)+(3+7)). */
    public static float sumLanes(FloatVector v) {
        float r0 = v.lane(0) + v.lane(4);
        float r1 = v.lane(1) + v.lane(5);
        float r2 = v.lane(2) + v.lane(6);
        float r3 = v.lane(3) + v.lane(7);
        return (r0 + r2) + (r1 + r3);
    }
}
