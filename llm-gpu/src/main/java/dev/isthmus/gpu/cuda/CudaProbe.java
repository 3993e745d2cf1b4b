package dev.isthmus.gpu.cuda;

import dev.isthmus.gpu.cuda.ffi.CuDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether CUDA can run here, and why not. Probing never throws: a missing {@code libcuda.so.1}, a driver
 * too old for the shipped PTX or a machine without GPUs each become an unavailable result with a reason.
 *
 * <p>The generated bindings ({@link CuDriver}) open {@code libcuda.so.1} in their static initializer, which
 * would fail with an {@link ExceptionInInitializerError} on machines without the driver; this class looks
 * the library up first and touches {@code CuDriver} only when it is there.
 *
 * <pre>{@code
 * CudaProbe p = CudaProbe.system();
 * if (!p.available()) System.out.println("no CUDA: " + p.reason());
 * }</pre>
 *
 * @param available whether at least one device can run the kernels
 * @param reason    why not (empty when available)
 * @param driverVersion the driver's CUDA version as 1000 * major + 10 * minor, or 0 if unknown
 * @param devices   the devices found (possibly empty)
 */
public record CudaProbe(boolean available, String reason, int driverVersion, List<CudaDevice> devices) {
    /** The driver library the bindings were generated for ({@code --library :libcuda.so.1}). */
    public static final String DRIVER_LIBRARY = "libcuda.so.1";
    /** The PTX is written by CUDA 13's nvcc (PTX ISA 9.0), which drivers older than CUDA 13.0 cannot load. */
    static final int MIN_DRIVER_VERSION = 13000;

    public CudaProbe {
        devices = List.copyOf(devices);
    }

    private static final class Holder {
        static final CudaProbe SYSTEM = probe(DRIVER_LIBRARY);
    }

    /** The probe of this machine, computed once. */
    public static CudaProbe system() {
        return Holder.SYSTEM;
    }

    /**
     * Probes the driver library {@code library}. Only {@link #DRIVER_LIBRARY} can go further than the
     * library lookup, since that is the name baked into the generated bindings; other names serve tests of
     * the missing-driver path on machines that have a driver.
     */
    static CudaProbe probe(String library) {
        try {
            // An auto arena: the lookup only tests that the library can be opened.
            SymbolLookup.libraryLookup(library, Arena.ofAuto());
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return unavailable(library + " could not be loaded (is the NVIDIA driver installed?): " + e.getMessage(), 0);
        }
        if (!library.equals(DRIVER_LIBRARY)) {
            return unavailable(library + " is not the driver library the bindings use (" + DRIVER_LIBRARY + ")", 0);
        }
        try {
            return probeDriver();
        } catch (RuntimeException | LinkageError e) {
            return unavailable("the CUDA driver could not be queried: " + e, 0);
        }
    }

    private static CudaProbe probeDriver() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            int rc = CuDriver.cuInit(0);
            if (rc != CuDriver.CUDA_SUCCESS()) {
                return unavailable("cuInit failed: " + Cuda.describe(rc), 0);
            }
            Cuda.check(CuDriver.cuDriverGetVersion(out), "cuDriverGetVersion");
            int version = out.get(ValueLayout.JAVA_INT, 0);
            if (version < MIN_DRIVER_VERSION) {
                return unavailable("the driver supports CUDA " + versionString(version) + " but the kernels are PTX ISA 9.0 "
                        + "from CUDA 13.0; update the NVIDIA driver to R580 or newer", version);
            }
            Cuda.check(CuDriver.cuDeviceGetCount(out), "cuDeviceGetCount");
            int count = out.get(ValueLayout.JAVA_INT, 0);
            List<CudaDevice> devices = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                devices.add(Cuda.device(i));
            }
            List<CudaDevice> usable = devices.stream()
                    .filter(d -> PtxCatalog.select(d.computeCapability()).isPresent()).toList();
            if (devices.isEmpty()) {
                return new CudaProbe(false, "the CUDA driver found no GPU", version, devices);
            }
            if (usable.isEmpty()) {
                return new CudaProbe(false, "no GPU is new enough for the kernels (need sm_" + PtxCatalog.minimumTarget()
                        + " or newer): " + devices, version, devices);
            }
            return new CudaProbe(true, "", version, devices);
        }
    }

    static String versionString(int version) {
        return version / 1000 + "." + (version % 1000) / 10;
    }

    private static CudaProbe unavailable(String reason, int version) {
        return new CudaProbe(false, reason, version, List.of());
    }
}
