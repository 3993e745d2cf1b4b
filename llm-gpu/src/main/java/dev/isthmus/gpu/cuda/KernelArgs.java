package dev.isthmus.gpu.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code void **kernelParams} array {@code cuLaunchKernel} takes: one pointer per kernel parameter,
 * each to a slot holding the value. Slots are laid out with the parameter's own size and alignment, in an
 * arena the caller owns for the duration of the launch.
 *
 * <pre>{@code
 * try (Arena a = Arena.ofConfined()) {
 *     MemorySegment params = new KernelArgs().pointer(w).i64(rowBytes).pointer(x).pointer(y)
 *             .i32(rows).i32(cols).i32(batch).build(a);
 * }
 * }</pre>
 */
final class KernelArgs {
    private final List<ValueLayout> layouts = new ArrayList<>();
    private final List<Object> values = new ArrayList<>();

    /** A device pointer ({@code CUdeviceptr}, 64-bit). */
    KernelArgs pointer(long devicePointer) {
        return add(ValueLayout.JAVA_LONG, devicePointer);
    }

    KernelArgs pointer(DeviceBuffer buffer) {
        return pointer(buffer.address());
    }

    KernelArgs i32(int v) {
        return add(ValueLayout.JAVA_INT, v);
    }

    KernelArgs i64(long v) {
        return add(ValueLayout.JAVA_LONG, v);
    }

    KernelArgs f32(float v) {
        return add(ValueLayout.JAVA_FLOAT, v);
    }

    int count() {
        return values.size();
    }

    private KernelArgs add(ValueLayout layout, Object value) {
        layouts.add(layout);
        values.add(value);
        return this;
    }

    /** Writes the slots and the pointer array into {@code arena}; returns the pointer array. */
    MemorySegment build(Arena arena) {
        MemorySegment pointers = arena.allocate(MemoryLayout.sequenceLayout(Math.max(1, values.size()), ValueLayout.ADDRESS));
        for (int i = 0; i < values.size(); i++) {
            ValueLayout layout = layouts.get(i);
            MemorySegment slot = arena.allocate(layout);
            switch (values.get(i)) {
                case Long l -> slot.set(ValueLayout.JAVA_LONG, 0, l);
                case Integer n -> slot.set(ValueLayout.JAVA_INT, 0, n);
                case Float f -> slot.set(ValueLayout.JAVA_FLOAT, 0, f);
                default -> throw new IllegalStateException("unexpected kernel argument " + values.get(i));
            }
            pointers.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        return pointers;
    }
}
