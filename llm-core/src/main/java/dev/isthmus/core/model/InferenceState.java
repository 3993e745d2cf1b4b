package dev.isthmus.core.model;

/**
 * The mutable state of one generation session: KV cache, position, and work buffers sized once for the
 * largest batch so that decoding allocates nothing per token. When the model runs on a device ({@link
 * DeviceForward}) the KV cache lives there and the host buffers are not allocated.
 */
public final class InferenceState {
    final KvCache cache;
    final DeviceForward.Cache deviceCache;
    final int maxBatch;
    final float[] x;
    final float[] xb;
    final float[] q;
    final float[] k;
    final float[] v;
    final float[] qkv;
    final float[] att;
    final float[] proj;
    final float[] hb;
    final float[] hb2;
    final float[] cos;
    final float[] sin;
    final boolean halfPrecisionAttention;
    int position;

    private final ModelConfig config;

    InferenceState(ModelConfig c, int contextLength, int maxBatch, boolean halfPrecisionCache) {
        this(c, maxBatch, halfPrecisionCache, new KvCache(c.layers(), contextLength, c.kvDim(), halfPrecisionCache), null);
    }

    /** A state whose KV cache is {@code device}'s; the host holds only the position. */
    InferenceState(ModelConfig c, boolean halfPrecisionCache, DeviceForward.Cache device) {
        this(c, 0, halfPrecisionCache, null, device);
    }

    private InferenceState(ModelConfig c, int maxBatch, boolean halfPrecisionCache, KvCache cache,
                           DeviceForward.Cache deviceCache) {
        this.config = c;
        this.cache = cache;
        this.deviceCache = deviceCache;
        this.maxBatch = maxBatch;
        this.halfPrecisionAttention = halfPrecisionCache;
        int d = c.dim();
        x = new float[maxBatch * d];
        xb = new float[maxBatch * d];
        q = new float[maxBatch * c.qDim()];
        k = new float[maxBatch * c.kvDim()];
        v = new float[maxBatch * c.kvDim()];
        qkv = new float[maxBatch * (c.qDim() + 2 * c.kvDim())];
        att = new float[maxBatch * c.qDim()];
        proj = new float[maxBatch * d];
        hb = new float[maxBatch * 2 * c.ffnDim()];
        hb2 = new float[maxBatch * c.ffnDim()];
        cos = new float[maxBatch == 0 ? 0 : c.headDim()];
        sin = new float[maxBatch == 0 ? 0 : c.headDim()];
    }

    /** Tokens processed so far (the next token's position). */
    public int position() {
        return position;
    }

    /** Positions this state can hold. */
    public int capacity() {
        return deviceCache != null ? deviceCache.capacity() : cache.capacity();
    }

    /** An independent copy (KV cache and position), e.g. to fork a beam. */
    public InferenceState copy() {
        if (deviceCache != null) {
            InferenceState c = new InferenceState(config, halfPrecisionAttention, deviceCache.copy(position));
            c.position = position;
            return c;
        }
        InferenceState c = new InferenceState(config, capacity(), maxBatch, halfPrecisionAttention);
        cache.copyTo(c.cache, position);
        c.position = position;
        return c;
    }

    /** Forgets everything after {@code position} (e.g. to restart from a shared prompt prefix). */
    public void rewind(int newPosition) {
        if (newPosition < 0 || newPosition > position) {
            throw new IllegalArgumentException("can rewind to 0.." + position + ", not " + newPosition);
        }
        position = newPosition;
    }

    /**
     * Frees a device KV cache now rather than when this state becomes unreachable; the state cannot run
     * further tokens. Does nothing for a host state.
     */
    public void release() {
        if (deviceCache != null) {
            deviceCache.release();
        }
    }
}
