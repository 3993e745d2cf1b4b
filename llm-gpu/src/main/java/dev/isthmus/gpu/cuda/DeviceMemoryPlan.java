package dev.isthmus.gpu.cuda;

import dev.isthmus.core.tensor.GgmlType;
import java.util.ArrayList;
import java.util.List;

/**
 * The device memory a model needs — its weights in their device formats, the KV cache and activation
 * scratch — summed before anything is allocated, so a model that does not fit fails with one message
 * naming the sizes instead of an out-of-memory error halfway through the upload.
 *
 * <pre>{@code
 * DeviceMemoryPlan plan = new DeviceMemoryPlan()
 *         .weight("blk.0.attn_q.weight", GgmlType.Q4_K, 4096, 4096)
 *         .kvCache(new KvCacheLayout(32, 4096, 8, 128))
 *         .scratch(512 * 4096 * 4);
 * plan.requireFits(freeBytes);
 * }</pre>
 */
public final class DeviceMemoryPlan {
    /** cuMemAlloc returns 256-byte aligned memory; sizes are rounded to that so sums match what is taken. */
    static final long ALIGNMENT = 256;

    /** One weight matrix on the device. */
    public record Weight(String name, DeviceFormat format, long rows, long cols, long bytes) {
    }

    private final List<Weight> weights = new ArrayList<>();
    private long kvBytes;
    private long scratchBytes;

    /** Adds a {@code rows x cols} weight stored as {@code type} in the model file. */
    public DeviceMemoryPlan weight(String name, GgmlType type, long rows, long cols) {
        DeviceFormat f = DeviceFormat.of(type);
        long bytes = align(Math.multiplyExact(rows, f.deviceRowBytes(cols)));
        weights.add(new Weight(name, f, rows, cols, bytes));
        return this;
    }

    /** Adds a KV cache. */
    public DeviceMemoryPlan kvCache(KvCacheLayout layout) {
        kvBytes = Math.addExact(kvBytes, align(layout.totalBytes()));
        return this;
    }

    /** Adds activation scratch of {@code bytes}. */
    public DeviceMemoryPlan scratch(long bytes) {
        scratchBytes = Math.addExact(scratchBytes, align(bytes));
        return this;
    }

    public List<Weight> weights() {
        return List.copyOf(weights);
    }

    public long weightBytes() {
        return weights.stream().mapToLong(Weight::bytes).sum();
    }

    public long kvCacheBytes() {
        return kvBytes;
    }

    public long scratchBytes() {
        return scratchBytes;
    }

    public long totalBytes() {
        return Math.addExact(Math.addExact(weightBytes(), kvBytes), scratchBytes);
    }

    /** Weights that are rewritten on the host before upload (logged by the backend). */
    public List<Weight> converted() {
        return weights.stream().filter(w -> w.format().converted()).toList();
    }

    /**
     * @throws IllegalStateException naming every part of the plan if it needs more than {@code freeBytes}
     */
    public void requireFits(long freeBytes) {
        if (totalBytes() > freeBytes) {
            throw new IllegalStateException(String.format(
                    "the model needs %s of GPU memory (weights %s, KV cache %s, scratch %s) but %s is free",
                    mib(totalBytes()), mib(weightBytes()), mib(kvBytes), mib(scratchBytes), mib(freeBytes)));
        }
    }

    static long align(long bytes) {
        return Math.multiplyExact(Math.ceilDiv(bytes, ALIGNMENT), ALIGNMENT);
    }

    static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
