package dev.isthmus.gpu.cuda;

import dev.isthmus.gpu.cuda.ffi.CuDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A device's primary context with everything Isthmus allocated in it: device buffers and the kernel
 * module. The primary context (rather than a private one) is what the CUDA runtime uses too, so Isthmus
 * shares the device with other CUDA users in the process. {@link #close()} frees the buffers, unloads the
 * module and releases the context. Not thread-safe: {@link CudaBackend} serialises calls.
 *
 * <pre>{@code
 * try (CudaContext ctx = CudaContext.open(CudaProbe.system().devices().getFirst())) {
 *     DeviceBuffer b = ctx.allocate(4096, "x");
 * }
 * }</pre>
 */
final class CudaContext implements AutoCloseable {
    /** Room for 64 kernel arguments (a pointer and an 8-byte slot each). */
    private static final long LAUNCH_SCRATCH_BYTES = 1024;
    private final CudaDevice device;
    private final MemorySegment context;
    private final Set<DeviceBuffer> buffers = new LinkedHashSet<>();
    private final List<MemorySegment> modules = new ArrayList<>();
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private MemorySegment module = MemorySegment.NULL;
    private boolean open = true;
    /** Kernel arguments of the launch in progress: reused, as the driver copies them at launch. */
    private final Arena launchArena = Arena.ofShared();
    private final MemorySegment launchScratch = launchArena.allocate(LAUNCH_SCRATCH_BYTES, 8);

    private CudaContext(CudaDevice device, MemorySegment context) {
        this.device = device;
        this.context = context;
    }

    /** Retains {@code device}'s primary context and makes it current on this thread. */
    static CudaContext open(CudaDevice device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check(CuDriver.cuDevicePrimaryCtxRetain(p, device.ordinal()), "cuDevicePrimaryCtxRetain", device.toString());
            CudaContext c = new CudaContext(device, p.get(ValueLayout.ADDRESS, 0));
            c.makeCurrent();
            return c;
        }
    }

    CudaDevice device() {
        return device;
    }

    /** Binds the context to the calling thread; driver calls act on the current context. */
    void makeCurrent() {
        checkOpen();
        Cuda.check(CuDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** Free device memory now, in bytes. */
    long freeMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check(CuDriver.cuMemGetInfo_v2(free, total), "cuMemGetInfo_v2");
            return free.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    DeviceBuffer allocate(long bytes, String label) {
        checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ValueLayout.JAVA_LONG);
            int rc = CuDriver.cuMemAlloc_v2(p, Math.max(1, bytes));
            if (rc != CuDriver.CUDA_SUCCESS()) {
                // Say how much was free: the usual cause is a model larger than the card.
                Cuda.check(rc, "cuMemAlloc_v2", label + ", " + DeviceMemoryPlan.mib(bytes) + " requested, "
                        + DeviceMemoryPlan.mib(freeMemoryQuietly()) + " free on " + device);
            }
            DeviceBuffer b = new DeviceBuffer(this, p.get(ValueLayout.JAVA_LONG, 0), bytes, label);
            buffers.add(b);
            return b;
        }
    }

    private long freeMemoryQuietly() {
        try {
            return freeMemory();
        } catch (CudaException e) {
            return -1;
        }
    }

    void free(DeviceBuffer b) {
        if (buffers.remove(b) && open) {
            // DeviceBuffer.address() refuses closed buffers, and freeing happens just after closing.
            Cuda.check(CuDriver.cuMemFree_v2(b.rawAddress()), "cuMemFree_v2", b.label());
        }
    }

    /** Copies {@code bytes} from native host memory to {@code dst + offset}. */
    void upload(MemorySegment src, DeviceBuffer dst, long offset, long bytes) {
        checkRange(dst, offset, bytes);
        Cuda.check(CuDriver.cuMemcpyHtoD_v2(dst.address() + offset, src, bytes), "cuMemcpyHtoD_v2", dst.label());
    }

    /** Copies {@code bytes} from {@code src} to native host memory. */
    void download(DeviceBuffer src, MemorySegment dst, long bytes) {
        checkRange(src, 0, bytes);
        Cuda.check(CuDriver.cuMemcpyDtoH_v2(dst, src.address(), bytes), "cuMemcpyDtoH_v2", src.label());
    }

    /** Copies {@code bytes} between device buffers (on the device; used to measure memory bandwidth). */
    void copy(DeviceBuffer src, DeviceBuffer dst, long bytes) {
        copy(src, 0, dst, 0, bytes);
    }

    /** Copies {@code bytes} from {@code src + srcOffset} to {@code dst + dstOffset}, on the device. */
    void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
        checkRange(src, srcOffset, bytes);
        checkRange(dst, dstOffset, bytes);
        Cuda.check(CuDriver.cuMemcpyDtoD_v2(dst.address() + dstOffset, src.address() + srcOffset, bytes),
                "cuMemcpyDtoD_v2", src.label());
    }

    private static void checkRange(DeviceBuffer b, long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > b.bytes()) {
            throw new IndexOutOfBoundsException(bytes + " bytes at " + offset + " do not fit " + b);
        }
    }

    /** Loads the kernel module from NUL-terminated PTX; the driver JIT-compiles it for the device. */
    void loadModule(byte[] ptx) {
        checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment image = arena.allocateFrom(ValueLayout.JAVA_BYTE, ptx);
            MemorySegment p = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check(CuDriver.cuModuleLoadData(p, image), "cuModuleLoadData", "Isthmus kernels on " + device);
            module = p.get(ValueLayout.ADDRESS, 0);
            modules.add(module);
            functions.clear();
        }
    }

    /** The kernel called {@code name} in the loaded module (looked up once). */
    MemorySegment function(String name) {
        checkOpen();
        return functions.computeIfAbsent(name, n -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment p = arena.allocate(ValueLayout.ADDRESS);
                Cuda.check(CuDriver.cuModuleGetFunction(p, module, arena.allocateFrom(n)), "cuModuleGetFunction", n);
                return p.get(ValueLayout.ADDRESS, 0);
            }
        });
    }

    /** Launches {@code kernel} on the default stream; errors inside the kernel surface at the next sync. */
    void launch(String kernel, LaunchConfig c, KernelArgs args) {
        MemorySegment f = function(kernel);
        int rc = CuDriver.cuLaunchKernel(f, c.gridX(), c.gridY(), 1, c.blockX(), 1, 1, c.sharedBytes(),
                MemorySegment.NULL, args.write(launchScratch), MemorySegment.NULL);
        if (rc != CuDriver.CUDA_SUCCESS()) {
            Cuda.check(rc, "cuLaunchKernel", kernel + " " + c);
        }
    }

    void synchronize() {
        Cuda.check(CuDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    boolean isOpen() {
        return open;
    }

    private void checkOpen() {
        if (!open) {
            throw new IllegalStateException("CUDA context on " + device + " is closed");
        }
    }

    /** Frees every buffer, unloads the module and releases the primary context. */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        makeCurrent();
        RuntimeException first = null;
        for (DeviceBuffer b : List.copyOf(buffers)) {
            try {
                b.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        for (MemorySegment m : modules) {
            int rc = CuDriver.cuModuleUnload(m);
            if (first == null && rc != CuDriver.CUDA_SUCCESS()) {
                first = new CudaException("cuModuleUnload", rc, "cuModuleUnload failed: " + Cuda.describe(rc));
            }
        }
        open = false;
        launchArena.close();
        int rc = CuDriver.cuDevicePrimaryCtxRelease_v2(device.ordinal());
        if (first == null && rc != CuDriver.CUDA_SUCCESS()) {
            first = new CudaException("cuDevicePrimaryCtxRelease_v2", rc, "releasing the context failed: " + Cuda.describe(rc));
        }
        if (first != null) {
            throw first;
        }
    }
}
