package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class KernelArgsTest {

    @Test
    void eachPointerLeadsToItsValue() {
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs args = new KernelArgs().pointer(0xdead_beef_0000L).i64(144).i32(-7).f32(1.5f);
            MemorySegment params = args.build(arena);

            assertThat(args.count()).isEqualTo(4);
            assertThat(slot(params, 0, 8).get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0xdead_beef_0000L);
            assertThat(slot(params, 1, 8).get(ValueLayout.JAVA_LONG, 0)).isEqualTo(144L);
            assertThat(slot(params, 2, 4).get(ValueLayout.JAVA_INT, 0)).isEqualTo(-7);
            assertThat(slot(params, 3, 4).get(ValueLayout.JAVA_FLOAT, 0)).isEqualTo(1.5f);
        }
    }

    @Test
    void slotsAreAlignedToTheirSize() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = new KernelArgs().i32(1).i64(2).build(arena);
            assertThat(params.getAtIndex(ValueLayout.ADDRESS, 1).address() % 8).as("64-bit slot alignment").isZero();
        }
    }

    private static MemorySegment slot(MemorySegment params, int i, long size) {
        return params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(size);
    }
}
