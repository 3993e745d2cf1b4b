package dev.isthmus.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class TensorTest {

    private static float[] iota(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return v;
    }

    @Test
    void rowIsAViewSharingMemory() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats("m", arena, iota(12), 3, 4);
            Tensor row = t.row(1);
            assertThat(row.shape()).containsExactly(4);
            assertThat(row.toFloatArray()).containsExactly(4, 5, 6, 7);
            row.setFloat(-1f, 2);
            assertThat(t.getFloat(1, 2)).as("write through the view is visible in the parent").isEqualTo(-1f);
        }
    }

    @Test
    void sliceOfAnOuterDimensionKeepsStrides() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats("m", arena, iota(24), 2, 3, 4);
            Tensor s = t.slice(1, 1, 3);
            assertThat(s.shape()).containsExactly(2, 2, 4);
            assertThat(s.isPacked()).isFalse();
            assertThat(s.getFloat(1, 0, 0)).isEqualTo(16f);
            assertThat(s.toFloatArray()).containsExactly(4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23);
        }
    }

    @Test
    void sliceOfTheLastDimensionOfAQuantizedTensorMustFollowBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate("q", GgmlType.Q8_0, arena, 2, 64);
            assertThat(t.slice(1, 32, 64).shape()).containsExactly(2, 32);
            assertThatThrownBy(() -> t.slice(1, 16, 48)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Q8_0 blocks");
        }
    }

    @Test
    void reshapeKeepsDataAndChecksElementCount() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats("m", arena, iota(12), 3, 4);
            Tensor r = t.reshape(2, 6);
            assertThat(r.getFloat(1, 0)).isEqualTo(6f);
            assertThatThrownBy(() -> t.reshape(5, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("12 elements");
            assertThatThrownBy(() -> t.slice(0, 0, 2).slice(1, 0, 2).reshape(4))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void rowsOfAQuantizedTensorMustBeWholeBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> Tensor.allocate("q", GgmlType.Q8_0, arena, 4, 40))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("block size 32");
        }
    }

    @Test
    void dataOfTheWrongSizeIsRejected() {
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> Tensor.of("w", GgmlType.F16, arena.allocate(10), 2, 3))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 12 bytes");
        }
    }

    @Test
    void usingATensorAfterItsArenaClosedFailsClearly() {
        Arena arena = Arena.ofConfined();
        Tensor t = Tensor.ofFloats("w", arena, iota(4), 4);
        arena.close();
        assertThat(t.isOpen()).isFalse();
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'w'").hasMessageContaining("closed");
    }

    @Test
    void f16AndBf16ElementsConvertOnAccess() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor h = Tensor.allocate("h", GgmlType.F16, arena, 3);
            h.setFloat(65504f, 0);
            h.setFloat(1e-7f, 1);
            h.setFloat(Float.NEGATIVE_INFINITY, 2);
            assertThat(h.getFloat(0)).isEqualTo(65504f);
            assertThat(h.getFloat(1)).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(1e-7f)));
            assertThat(h.getFloat(2)).isEqualTo(Float.NEGATIVE_INFINITY);
            Tensor b = Tensor.allocate("b", GgmlType.BF16, arena, 1);
            b.setFloat(1.00390625f, 0); // exactly halfway between two bfloat16 values: rounds to even (1.0)
            assertThat(b.getFloat(0)).isEqualTo(1.0f);
        }
    }

    @Test
    void indexOutsideTheShapeNamesTheTensor() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats("w", arena, iota(4), 2, 2);
            assertThatThrownBy(() -> t.getFloat(2, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("'w'");
        }
    }
}
