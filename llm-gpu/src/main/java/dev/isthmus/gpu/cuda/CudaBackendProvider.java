package dev.isthmus.gpu.cuda;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.BackendProvider;

/**
 * Registers {@link CudaBackend} as {@code "cuda"}, ahead of the CPU backend when a GPU is usable. The
 * driver is probed the first time availability is asked, never at class loading, so a machine without
 * {@code libcuda.so.1} sees an unavailable backend with the reason rather than an error.
 *
 * <p>The device is chosen with the system property {@code isthmus.cuda.device} (default 0).
 *
 * <pre>{@code
 * Llm.builder().model(path).backend("cuda").build();   // fails naming the reason when unavailable
 * }</pre>
 */
public final class CudaBackendProvider implements BackendProvider {
    /** Above the CPU backend's 0. */
    static final int PRIORITY = 100;

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return PRIORITY;
    }

    @Override
    public boolean isAvailable() {
        return CudaProbe.system().available();
    }

    @Override
    public String unavailableReason() {
        CudaProbe p = CudaProbe.system();
        return p.available() ? "cuda is available" : p.reason();
    }

    @Override
    public Backend create(int threads) {
        CudaProbe p = CudaProbe.system();
        if (!p.available()) {
            throw new IllegalStateException("backend 'cuda' is unavailable: " + p.reason());
        }
        int ordinal = Integer.getInteger("isthmus.cuda.device", 0);
        CudaDevice device = p.devices().stream().filter(d -> d.ordinal() == ordinal).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("isthmus.cuda.device=" + ordinal + " but the GPUs are "
                        + p.devices()));
        return CudaBackend.open(device);
    }
}
