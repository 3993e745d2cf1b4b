package dev.isthmus.core.tensor;

/**
 * Conversions between {@code float} and the 16-bit float formats stored in model files.
 *
 * <p>IEEE half precision uses the JDK's {@link Float#float16ToFloat} / {@link Float#floatToFloat16}
 * (exact, intrinsified). bfloat16 is the upper half of a float: widening is a shift, narrowing rounds
 * to nearest-even and keeps NaNs quiet (a plain truncation could turn a NaN into an infinity).
 */
public final class Half {
    private Half() {
    }

    /** IEEE binary16 bits to float. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Float to IEEE binary16 bits, rounding to nearest-even. */
    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** bfloat16 bits to float (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Float to bfloat16 bits, rounding to nearest-even; NaN stays NaN (quiet), sign preserved. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
