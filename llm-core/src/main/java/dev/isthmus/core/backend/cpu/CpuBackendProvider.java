package dev.isthmus.core.backend.cpu;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.BackendProvider;

/** Registers the {@link CpuBackend}. */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public Backend create(int threads) {
        return new CpuBackend(threads);
    }
}
