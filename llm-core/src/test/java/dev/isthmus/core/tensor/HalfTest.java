package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import org.junit.jupiter.api.Test;

class HalfTest {

    @Test
    void vectorF16WideningMatchesTheJdkForEveryBitPattern() {
        int lanes = VectorKernels.S.length();
        short[] halves = new short[lanes];
        float[] out = new float[lanes];
        for (int base = 0; base < 65536; base += lanes) {
            for (int i = 0; i < lanes; i++) {
                halves[i] = (short) (base + i);
            }
            FloatVector v = VectorKernels.f16ToFloat(ShortVector.fromArray(VectorKernels.S, halves, 0));
            v.intoArray(out, 0);
            for (int i = 0; i < lanes; i++) {
                int expected = Float.floatToRawIntBits(Float.float16ToFloat(halves[i]));
                assertThat(Float.floatToRawIntBits(out[i]))
                        .as("half 0x%04x", halves[i] & 0xFFFF)
                        .isEqualTo(expected);
            }
        }
    }

    @Test
    void f16RoundTripIsExactForEveryFiniteHalf() {
        for (int h = 0; h < 65536; h++) {
            float f = Half.f16ToFloat((short) h);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(Half.f16ToFloat(Half.floatToF16(f)))).as("NaN 0x%04x stays NaN", h).isTrue();
            } else {
                assertThat(Half.floatToF16(f) & 0xFFFF).as("half 0x%04x", h).isEqualTo(h);
            }
        }
    }

    @Test
    void bf16WideningPlacesBitsInTheUpperHalf() {
        for (int h = 0; h < 65536; h++) {
            assertThat(Float.floatToRawIntBits(Half.bf16ToFloat((short) h))).isEqualTo(h << 16);
        }
    }

    @Test
    void bf16NarrowingRoundsToNearestEvenLikeAnExactReference() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            int bits = i < 65536 ? (i << 16) | (i & 0xFFFF) : random.nextInt();
            checkBf16(Float.intBitsToFloat(bits));
        }
        // Halfway cases, subnormals, the largest finite values and the infinities.
        int[] edges = {0x3F808000, 0x3F818000, 0x00008000, 0x00018000, 0x007FFFFF, 0x7F7F8000, 0x7F7FFFFF,
                0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x80000000, 0x00000001};
        for (int bits : edges) {
            checkBf16(Float.intBitsToFloat(bits));
        }
    }

    @Test
    void bf16NarrowingKeepsNaNsQuietAndSigned() {
        for (int bits : new int[] {0x7F800001, 0x7FC00000, 0xFF800001, 0x7FFFFFFF, 0x7F80FFFF}) {
            short b = Half.floatToBf16(Float.intBitsToFloat(bits));
            assertThat(Float.isNaN(Half.bf16ToFloat(b))).as("0x%08x must stay NaN", bits).isTrue();
            assertThat(b < 0).as("sign of 0x%08x", bits).isEqualTo(bits < 0);
        }
    }

    /** Picks the nearer of the two bfloat16 neighbours using exact decimal arithmetic; ties go to even. */
    private static void checkBf16(float f) {
        if (Float.isNaN(f)) {
            return;
        }
        int bits = Float.floatToRawIntBits(f);
        short actual = Half.floatToBf16(f);
        if (Float.isInfinite(f)) {
            assertThat(actual & 0xFFFF).isEqualTo(bits >>> 16);
            return;
        }
        int lower = bits & 0xFFFF0000;
        int upper = lower + 0x10000;
        BigDecimal exact = new BigDecimal(f);
        BigDecimal lo = new BigDecimal(Float.intBitsToFloat(lower));
        float upperValue = Float.intBitsToFloat(upper);
        int expected;
        if (Float.isInfinite(upperValue)) {
            // Beyond the largest bfloat16: compare with 2^128 (where the next value would be).
            BigDecimal inf = new BigDecimal(2).pow(128).multiply(BigDecimal.valueOf(Math.signum(f)));
            expected = pick(exact, lo, inf, lower, upper);
        } else {
            expected = pick(exact, lo, new BigDecimal(upperValue), lower, upper);
        }
        assertThat(actual & 0xFFFF).as("bf16 of 0x%08x", bits).isEqualTo(expected >>> 16);
    }

    private static int pick(BigDecimal exact, BigDecimal lo, BigDecimal hi, int lower, int upper) {
        int c = exact.subtract(lo).abs().compareTo(exact.subtract(hi).abs());
        if (c < 0) {
            return lower;
        }
        if (c > 0) {
            return upper;
        }
        return ((lower >>> 16) & 1) == 0 ? lower : upper;
    }
}
