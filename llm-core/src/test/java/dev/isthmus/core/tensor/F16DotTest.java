package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The F16 dot product widens halves with integer lane operations and checks for infinities and NaNs once per
 * row; it must equal, bit for bit, the same fused multiply-adds on halves widened one by one by the JDK — for
 * every finite half (subnormals, zeros, the largest) and, through the exact re-run, rows holding specials.
 */
class F16DotTest {
    private static final int COLS = 256;

    static float expected(short[] halves, float[] x) {
        float[] w = new float[halves.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = Float.float16ToFloat(halves[i]);
        }
        FloatVector acc = FloatVector.zero(IntLanes.F);
        for (int i = 0; i < w.length; i += 8) {
            acc = FloatVector.fromArray(IntLanes.F, w, i).fma(FloatVector.fromArray(IntLanes.F, x, i), acc);
        }
        return IntLanes.sumLanes(acc);
    }

    static float actual(short[] halves, float[] x) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(2L * halves.length + 2);
            for (int i = 0; i < halves.length; i++) {
                data.set(ValueLayouts.I16, 2 + 2L * i, halves[i]);
            }
            return BlockFormats.require(GgmlType.F16).dot(data, 2, x, 0, halves.length);
        }
    }

    @Test
    void everyFiniteHalfAndEverySpecialRowMatchTheJdkWidening() {
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            x[i] = (float) r.nextGaussian();
        }
        // All 63,488 finite half bit patterns, 256 to a row.
        short[] row = new short[COLS];
        int filled = 0;
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 0x7C00) == 0x7C00) {
                continue;
            }
            row[filled++] = (short) h;
            if (filled == COLS) {
                assertThat(Float.floatToRawIntBits(actual(row, x))).as("row ending at 0x%04x", h)
                        .isEqualTo(Float.floatToRawIntBits(expected(row, x)));
                filled = 0;
            }
        }
        for (short special : new short[] {0x7C00, (short) 0xFC00, 0x7E00, 0x7C01, (short) 0xFE00}) {
            for (int at : new int[] {0, 77, COLS - 1}) {
                short[] s = new short[COLS];
                for (int i = 0; i < COLS; i++) {
                    s[i] = Float.floatToFloat16((float) r.nextGaussian());
                }
                s[at] = special;
                assertThat(Float.floatToRawIntBits(actual(s, x))).as("0x%04x at %d", special, at)
                        .isEqualTo(Float.floatToRawIntBits(expected(s, x)));
            }
        }
    }
}
