package dev.isthmus.gpu.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Java arrays to and from device buffers, for tests that launch kernels themselves.
 *
 * <pre>{@code
 * DeviceBuffer x = DeviceArrays.upload(ctx, new float[] {1, 2, 3}, "x");
 * float[] back = DeviceArrays.floats(ctx, x, 3);
 * }</pre>
 */
final class DeviceArrays {
    private DeviceArrays() {
    }

    static DeviceBuffer upload(CudaContext ctx, float[] values, String label) {
        DeviceBuffer b = ctx.allocate(4L * values.length, label);
        try (Arena arena = Arena.ofConfined()) {
            ctx.upload(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), b, 0, 4L * values.length);
        }
        return b;
    }

    static DeviceBuffer upload(CudaContext ctx, int[] values, String label) {
        DeviceBuffer b = ctx.allocate(4L * values.length, label);
        try (Arena arena = Arena.ofConfined()) {
            ctx.upload(arena.allocateFrom(ValueLayout.JAVA_INT, values), b, 0, 4L * values.length);
        }
        return b;
    }

    static float[] floats(CudaContext ctx, DeviceBuffer b, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(4L * n, 8);
            ctx.download(b, host, 4L * n);
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    static int[] ints(CudaContext ctx, DeviceBuffer b, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(4L * n, 8);
            ctx.download(b, host, 4L * n);
            return host.toArray(ValueLayout.JAVA_INT);
        }
    }

    static long[] longs(CudaContext ctx, DeviceBuffer b, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(8L * n, 8);
            ctx.download(b, host, 8L * n);
            return host.toArray(ValueLayout.JAVA_LONG);
        }
    }
}
