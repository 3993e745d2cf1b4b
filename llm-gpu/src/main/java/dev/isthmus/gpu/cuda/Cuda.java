package dev.isthmus.gpu.cuda;

import dev.isthmus.gpu.cuda.ffi.CuDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Checked calls into the generated driver bindings: every {@code CUresult} other than success becomes a
 * {@link CudaException} naming the call and what was being done. Only reached after {@link CudaProbe}
 * found the driver, so {@link CuDriver}'s static initializer cannot fail here.
 */
final class Cuda {
    private Cuda() {
    }

    static void check(int result, String call) {
        check(result, call, null);
    }

    /** Throws unless {@code result} is {@code CUDA_SUCCESS}; {@code context} says what Isthmus was doing. */
    static void check(int result, String call, String context) {
        if (result != CuDriver.CUDA_SUCCESS()) {
            throw new CudaException(call, result, call + " failed: " + describe(result)
                    + (context == null ? "" : " (" + context + ")"));
        }
    }

    /** The driver's name and text for an error, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY: out of memory}. */
    static String describe(int result) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ValueLayout.ADDRESS);
            String name = CuDriver.cuGetErrorName(result, p) == CuDriver.CUDA_SUCCESS() ? cString(p) : "CUresult " + result;
            String text = CuDriver.cuGetErrorString(result, p) == CuDriver.CUDA_SUCCESS() ? cString(p) : "unknown error";
            return name + ": " + text;
        }
    }

    private static String cString(MemorySegment pointerToString) {
        MemorySegment s = pointerToString.get(ValueLayout.ADDRESS, 0);
        return s.equals(MemorySegment.NULL) ? "?" : s.reinterpret(4096).getString(0);
    }

    static CudaDevice device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dev = arena.allocate(ValueLayout.JAVA_INT);
            check(CuDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet", "device " + ordinal);
            int d = dev.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = arena.allocate(256);
            check(CuDriver.cuDeviceGetName(name, 256, d), "cuDeviceGetName");
            MemorySegment bytes = arena.allocate(ValueLayout.JAVA_LONG);
            check(CuDriver.cuDeviceTotalMem_v2(bytes, d), "cuDeviceTotalMem_v2");
            int major = attribute(arena, CuDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR(), d);
            int minor = attribute(arena, CuDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR(), d);
            int sms = attribute(arena, CuDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT(), d);
            return new CudaDevice(ordinal, name.getString(0), bytes.get(ValueLayout.JAVA_LONG, 0), major * 10 + minor, sms);
        }
    }

    private static int attribute(Arena arena, int attribute, int device) {
        MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
        check(CuDriver.cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute", "attribute " + attribute);
        return v.get(ValueLayout.JAVA_INT, 0);
    }
}
