package dev.isthmus.core.model;

/**
 * A decoder's whole forward pass run on a backend's own device: weights, KV cache and every intermediate
 * stay there, and only token ids go in and logits come out. A backend offers one through {@link
 * dev.isthmus.core.backend.Backend#forwardPass}; {@link DecoderModel} then hands it each batch instead of
 * multiplying matrix by matrix through {@link dev.isthmus.core.backend.Backend#matmul}.
 *
 * <p>Implementations compute what {@link DecoderModel}'s host forward pass computes (the same layers, norms,
 * rotary angles and activation rounding), up to summation order. Calls on one instance may come from several
 * sessions' threads; implementations serialise them.
 *
 * <pre>{@code
 * Optional<DeviceForward> device = backend.forwardPass(config, weights);
 * DeviceForward.Cache cache = device.get().newCache(2048, true);
 * device.get().forward(cache, ids, 0, ids.length, 0, logits, false);
 * }</pre>
 */
public interface DeviceForward {

    /**
     * A session's KV cache in device memory. The memory is released by {@link #release()}, when the cache
     * becomes unreachable, or when the backend closes — whichever comes first.
     */
    interface Cache {
        /** Positions it holds. */
        int capacity();

        /** An independent cache holding a copy of the first {@code positions} positions (to fork a beam). */
        Cache copy(int positions);

        /** Frees the device memory now; the cache cannot be used afterwards. Idempotent. */
        void release();
    }

    /**
     * A fresh cache of {@code capacity} positions; {@code halfPrecision} rounds keys and values to half
     * precision when stored, as the host cache (and llama.cpp's F16 cache) does.
     */
    Cache newCache(int capacity, boolean halfPrecision);

    /**
     * Runs {@code count} tokens from {@code tokens[offset..]} at positions {@code start, start + 1, ...} of
     * {@code cache}; the caller has checked the ids and that they fit.
     *
     * @param logits receives the last token's logits ({@code vocab} floats) or, with {@code allLogits}, every
     *               token's ({@code count × vocab})
     */
    void forward(Cache cache, int[] tokens, int offset, int count, int start, float[] logits, boolean allLogits);
}
