package dev.isthmus.core.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Finds and creates backends.
 *
 * <pre>{@code
 * Backend best = Backends.create(null, 8);   // highest-priority available backend
 * Backend cpu  = Backends.create("cpu", 8);
 * }</pre>
 */
public final class Backends {
    private Backends() {
    }

    /** All registered providers, highest priority first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, BackendProvider.class.getClassLoader()).forEach(list::add);
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return list;
    }

    /**
     * Creates the backend called {@code name}, or the best available one when {@code name} is null.
     *
     * @throws IllegalArgumentException if no provider has that name or it is unavailable
     */
    public static Backend create(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        List<BackendProvider> providers = providers();
        for (BackendProvider p : providers) {
            if (name == null ? p.isAvailable() : p.name().equalsIgnoreCase(name)) {
                if (!p.isAvailable()) {
                    throw new IllegalArgumentException("backend '" + name + "' is unavailable: " + p.unavailableReason());
                }
                return p.create(threads);
            }
        }
        throw new IllegalArgumentException("no backend named '" + name + "'; registered: "
                + providers.stream().map(BackendProvider::name).toList()
                + (name != null && name.equalsIgnoreCase("cuda") ? " (add dev.isthmus:llm-gpu)" : ""));
    }
}
