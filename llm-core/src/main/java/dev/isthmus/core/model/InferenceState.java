package dev.isthmus.core.model;

/**
 * The mutable state of one generation session: KV cache, position, and work buffers sized once for the
 * largest batch so that decoding allocates nothing per token.
 */
public final class InferenceState {
    final KvCache cache;
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
        this.config = c;
        this.cache = new KvCache(c.layers(), contextLength, c.kvDim(), halfPrecisionCache);
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
        cos = new float[c.headDim()];
        sin = new float[c.headDim()];
    }

    /** Tokens processed so far (the next token's position). */
    public int position() {
        return position;
    }

    /** Positions this state can hold. */
    public int capacity() {
        return cache.capacity();
    }

    /** An independent copy (KV cache and position), e.g. to fork a beam. */
    public InferenceState copy() {
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
}
