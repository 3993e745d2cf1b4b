package dev.isthmus.core.backend;

/**
 * Service-provider interface: one implementation per backend kind, listed in
 * {@code META-INF/services/dev.isthmus.core.backend.BackendProvider}.
 */
public interface BackendProvider {

    /** The name users select it by ({@code "cpu"}, {@code "cuda"}, …). */
    String name();

    /** Higher wins when the user asks for the best available backend. The CPU backend has priority 0. */
    int priority();

    /** Whether the backend can run on this machine (driver present, device found, …). */
    boolean isAvailable();

    /** Why it cannot run, when {@link #isAvailable()} is false. */
    default String unavailableReason() {
        return name() + " is not available on this machine";
    }

    /** Creates a backend using {@code threads} worker threads where that applies. */
    Backend create(int threads);
}
