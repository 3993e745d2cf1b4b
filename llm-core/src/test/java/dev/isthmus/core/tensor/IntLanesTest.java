package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.IntVector;
import org.junit.jupiter.api.Test;

/** The lane helpers against plain Java arithmetic. */
class IntLanesTest {
    @Test
    void smallToFloatIsTheExactConversionOverItsWholeRange() {
        int[] edges = {-(1 << 22), -(1 << 22) + 1, -65536, -127, -1, 0, 1, 15, 63, 127, 255, 60960, (1 << 22) - 1};
        SplittableRandom r = new SplittableRandom(3);
        int[] values = new int[edges.length + 8 * 1000];
        System.arraycopy(edges, 0, values, 0, edges.length);
        for (int i = edges.length; i < values.length; i++) {
            values[i] = r.nextInt(-(1 << 22), 1 << 22);
        }
        int lanes = IntLanes.I.length();
        int[] chunk = new int[lanes];
        float[] out = new float[lanes];
        for (int i = 0; i < values.length; i += lanes) {
            for (int j = 0; j < lanes; j++) {
                chunk[j] = values[Math.min(values.length - 1, i + j)];
            }
            IntLanes.smallToFloat(IntVector.fromArray(IntLanes.I, chunk, 0)).intoArray(out, 0);
            for (int j = 0; j < lanes; j++) {
                assertThat(Float.floatToRawIntBits(out[j])).as("lane of %d", chunk[j])
                        .isEqualTo(Float.floatToRawIntBits((float) chunk[j]));
            }
        }
    }
}
