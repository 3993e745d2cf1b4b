package dev.isthmus.gpu.cuda;

import java.lang.foreign.Arena;
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
    /** Bytes per argument slot and per pointer: every kernel argument is at most 8 bytes. */
    private static final int SLOT = 8;
    private final List<Object> values = new ArrayList<>();

    /** A device pointer ({@code CUdeviceptr}, 64-bit). */
    KernelArgs pointer(long devicePointer) {
        return add(devicePointer);
    }

    KernelArgs pointer(DeviceBuffer buffer) {
        return pointer(buffer.address());
    }

    KernelArgs i32(int v) {
        return add(v);
    }

    KernelArgs i64(long v) {
        return add(v);
    }

    KernelArgs f32(float v) {
        return add(v);
    }

    int count() {
        return values.size();
    }

    private KernelArgs add(Object value) {
        values.add(value);
        return this;
    }

    /** Writes the slots and the pointer array into {@code arena}; returns the pointer array. */
    MemorySegment build(Arena arena) {
        return write(arena.allocate(bytes(), SLOT));
    }

    /** Native bytes {@link #write} needs: a pointer and an 8-byte slot per argument. */
    long bytes() {
        return 2L * SLOT * Math.max(1, values.size());
    }

    /**
     * Writes the pointer array, then the slots it points to, at the start of {@code scratch} (8-byte aligned,
     * at least {@link #bytes()} long); returns the pointer array. The driver copies the values at launch, so
     * one scratch segment serves every launch.
     */
    MemorySegment write(MemorySegment scratch) {
        if (scratch.byteSize() < bytes()) {
            throw new IllegalArgumentException(values.size() + " kernel arguments need " + bytes()
                    + " bytes of scratch, got " + scratch.byteSize());
        }
        int n = Math.max(1, values.size());
        MemorySegment pointers = scratch.asSlice(0, (long) SLOT * n);
        for (int i = 0; i < values.size(); i++) {
            MemorySegment slot = scratch.asSlice((long) SLOT * (n + i), SLOT);
            switch (values.get(i)) {
                case Long l -> slot.set(ValueLayout.JAVA_LONG, 0, l);
                case Integer v -> slot.set(ValueLayout.JAVA_INT, 0, v);
                case Float f -> slot.set(ValueLayout.JAVA_FLOAT, 0, f);
                default -> throw new IllegalStateException("unexpected kernel argument " + values.get(i));
            }
            pointers.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        return pointers;
    }
}
