package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class KvCacheLayoutTest {
    private final KvCacheLayout kv = new KvCacheLayout(3, 10, 2, 4);

    @Test
    void keysThenValuesPerLayer() {
        long position = 2 * 4 * 4;
        assertThat(kv.positionBytes()).isEqualTo(position);
        assertThat(kv.keyOffset(0, 0)).isZero();
        assertThat(kv.valueOffset(0, 0)).isEqualTo(10 * position);
        assertThat(kv.keyOffset(1, 3)).isEqualTo(2 * 10 * position + 3 * position);
        assertThat(kv.totalBytes()).isEqualTo(3 * 2 * 10 * position);
    }

    @Test
    void lastValueEndsAtTheEnd() {
        assertThat(kv.valueOffset(2, 9) + kv.positionBytes()).isEqualTo(kv.totalBytes());
    }

    @Test
    void outOfRangePositionsNameTheCache() {
        assertThatThrownBy(() -> kv.keyOffset(3, 0)).hasMessageContaining("3 layers x 10 positions");
        assertThatThrownBy(() -> kv.keyOffset(0, 10)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void dimensionsMustBePositive() {
        assertThatThrownBy(() -> new KvCacheLayout(1, 0, 1, 1)).hasMessageContaining("0 positions");
    }
}
