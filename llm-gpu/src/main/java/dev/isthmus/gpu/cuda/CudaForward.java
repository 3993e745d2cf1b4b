package dev.isthmus.gpu.cuda;

import dev.isthmus.core.backend.cpu.Rope;
import dev.isthmus.core.model.DecoderWeights;
import dev.isthmus.core.model.DeviceForward;
import dev.isthmus.core.model.Family;
import dev.isthmus.core.model.LayerWeights;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

/**
 * A decoder's forward pass on the GPU: the weights are uploaded once, when the model loads; embeddings
 * (looked up on the host) go in, logits come out, and everything between — norms, projections, rotary
 * embeddings, the KV cache, attention, the feed-forward network, residual adds — stays in device memory.
 * It computes what {@code DecoderModel}'s host pass computes, kernel for step: the same activation rounding
 * before each projection ({@link DeviceRounding}), the same rotary angles (computed on the host by {@link
 * Rope}), keys, values and queries rounded to half precision where the host cache rounds them. The steps between
 * two products are fused (a Llama layer's decode step is ten launches), and a decoded token's 8-bit roundings are
 * also written as integer levels and block scales, which the integer products ({@code matvec_q8x_*}) multiply.
 *
 * <p>Calls are serialised on the backend. Created by {@link CudaBackend#forwardPass}.
 *
 * <pre>{@code
 * DeviceForward f = cudaBackend.forwardPass(config, weights).orElseThrow();
 * DeviceForward.Cache kv = f.newCache(2048, true);
 * f.forward(kv, ids, 0, ids.length, 0, logits, false);
 * }</pre>
 */
final class CudaForward implements DeviceForward {
    private static final Cleaner CLEANER = Cleaner.create();
    /** Tokens pushed through the layers at once (as the host pass). */
    static final int MAX_BATCH = 512;
    /** Attention score scratch, in floats: long prompts over long caches run their queries in chunks. */
    static final long SCORE_BUDGET = 1L << 24;
    /**
     * Whether decode multiplies weights of the formats with kernels (all but F32, F16 and the formats converted
     * at upload, see {@link LaunchPlanner#hasIntegerProduct}) with integer activations (dp4a,
     * {@code matvec_q8x_*});
     * {@code -Disthmus.cuda.integerProducts=false} keeps the float products, for A/B comparisons.
     */
    static final boolean INTEGER_PRODUCTS = !"false".equals(System.getProperty("isthmus.cuda.integerProducts"));

    /** A weight matrix on the device with the rounding its activations need. */
    record Matrix(CudaBackend.DeviceWeight weight, int rows, int cols, DeviceRounding rounding) {
    }

    /** One block's device weights; null fields are absent in this family. */
    record Layer(DeviceBuffer attnNorm, DeviceBuffer attnNormBias, Matrix wq, Matrix wk, Matrix wv,
                 DeviceBuffer bq, DeviceBuffer bk, DeviceBuffer bv, Matrix wqkv, DeviceBuffer bqkv,
                 Matrix wo, DeviceBuffer bo, DeviceBuffer ffnNorm, DeviceBuffer ffnNormBias,
                 Matrix gate, Matrix up, DeviceBuffer upBias, Matrix down, DeviceBuffer downBias, boolean fusedGateUp) {
    }

    private final CudaBackend backend;
    private final CudaContext context;
    private final ModelConfig config;
    private final DecoderWeights host;
    private final Rope rope;
    private final List<Layer> layers;
    private final DeviceBuffer outputNorm;
    private final DeviceBuffer outputNormBias;
    private final Matrix output;
    private ForwardWorkspace work;
    /** Whether {@code ws.proj} holds a sub-layer output not yet added to the residual stream (the next norm adds it). */
    private boolean pendingResidual;
    /** Whether {@code ws.roundedInts} holds {@code ws.rounded}'s rounding as integers (one token). */
    private boolean roundedInts;

    private CudaForward(CudaBackend backend, ModelConfig config, DecoderWeights host, List<Layer> layers,
                        DeviceBuffer outputNorm, DeviceBuffer outputNormBias, Matrix output) {
        this.backend = backend;
        this.context = backend.context();
        this.config = config;
        this.host = host;
        this.rope = config.ropeStyle() == null ? null
                : new Rope(config.ropeStyle(), config.ropeDims(), config.ropeBase(), host.ropeFreqs());
        this.layers = layers;
        this.outputNorm = outputNorm;
        this.outputNormBias = outputNormBias;
        this.output = output;
    }

    /**
     * Uploads every weight (the caller holds the backend's lock).
     *
     * @throws UnsupportedOperationException if a weight's activation rounding is unknown to the device
     * @throws IllegalStateException         if the weights do not fit in free device memory
     */
    static CudaForward upload(CudaBackend backend, ModelConfig config, DecoderWeights w) {
        DeviceMemoryPlan plan = new DeviceMemoryPlan();
        for (Tensor t : w.matrices()) {
            rounding(t);
            plan.weight(t.name(), t.type(), t.dim(0), t.dim(1));
        }
        plan.requireFits(backend.context().freeMemory());
        Uploader up = new Uploader(backend);
        List<Layer> layers = new ArrayList<>();
        for (LayerWeights l : w.layers()) {
            layers.add(new Layer(up.vector(l.attnNorm()), up.vector(l.attnNormBias()), up.matrix(l.wq()),
                    up.matrix(l.wk()), up.matrix(l.wv()), up.vector(l.bq()), up.vector(l.bk()), up.vector(l.bv()),
                    up.matrix(l.wqkv()), up.vector(l.bqkv()), up.matrix(l.wo()), up.vector(l.bo()),
                    up.vector(l.ffnNorm()), up.vector(l.ffnNormBias()), up.matrix(l.ffnGate()), up.matrix(l.ffnUp()),
                    up.vector(l.ffnUpBias()), up.matrix(l.ffnDown()), up.vector(l.ffnDownBias()), l.fusedGateUp()));
        }
        return new CudaForward(backend, config, w, List.copyOf(layers), up.vector(w.outputNorm()),
                up.vector(w.outputNormBias()), up.matrix(w.output()));
    }

    private static DeviceRounding rounding(Tensor t) {
        return DeviceRounding.of(t.type()).orElseThrow(() -> new UnsupportedOperationException(
                "no device kernel rounds activations as " + t.type() + " weights need (" + t.name() + ")"));
    }

    /** Copies weights and float vectors to the device. */
    private record Uploader(CudaBackend backend) {
        Matrix matrix(Tensor t) {
            if (t == null) {
                return null;
            }
            int rows = Math.toIntExact(t.dim(0));
            int cols = Math.toIntExact(t.dim(1));
            return new Matrix(backend.resident(t, rows, cols), rows, cols, rounding(t));
        }

        DeviceBuffer vector(float[] v) {
            if (v == null) {
                return null;
            }
            DeviceBuffer b = backend.context().allocate(4L * v.length, "norm or bias");
            try (Arena arena = Arena.ofConfined()) {
                backend.context().upload(arena.allocateFrom(ValueLayout.JAVA_FLOAT, v), b, 0, 4L * v.length);
            }
            return b;
        }
    }

    @Override
    public Cache newCache(int capacity, boolean halfPrecision) {
        synchronized (backend) {
            backend.checkOpen();
            context.makeCurrent();
            KvCacheLayout layout = new KvCacheLayout(config.layers(), capacity, config.kvHeads(), config.headDim());
            return new KvCache(layout, halfPrecision, context.allocate(layout.totalBytes(), "KV cache"));
        }
    }

    /** A session's keys and values in one device allocation ({@link KvCacheLayout}). */
    final class KvCache implements Cache {
        final KvCacheLayout layout;
        final boolean halfPrecision;
        private final DeviceBuffer buffer;
        private final Cleaner.Cleanable cleanable;

        KvCache(KvCacheLayout layout, boolean halfPrecision, DeviceBuffer buffer) {
            this.layout = layout;
            this.halfPrecision = halfPrecision;
            this.buffer = buffer;
            this.cleanable = CLEANER.register(this, new Release(backend, buffer));
        }

        @Override
        public int capacity() {
            return layout.positions();
        }

        CudaForward owner() {
            return CudaForward.this;
        }

        long keys(int layer, int position) {
            return buffer.address() + layout.keyOffset(layer, position);
        }

        long values(int layer, int position) {
            return buffer.address() + layout.valueOffset(layer, position);
        }

        @Override
        public Cache copy(int positions) {
            KvCache c = (KvCache) newCache(capacity(), halfPrecision);
            synchronized (backend) {
                backend.checkOpen();
                context.makeCurrent();
                long bytes = positions * layout.positionBytes();
                for (int l = 0; l < layout.layers() && bytes > 0; l++) {
                    context.copy(buffer, layout.keyOffset(l, 0), c.buffer, layout.keyOffset(l, 0), bytes);
                    context.copy(buffer, layout.valueOffset(l, 0), c.buffer, layout.valueOffset(l, 0), bytes);
                }
            }
            return c;
        }

        @Override
        public void release() {
            cleanable.clean();
        }
    }

    /** Frees a cache's memory; holds no reference to the cache, so the cache can become unreachable. */
    private record Release(CudaBackend backend, DeviceBuffer buffer) implements Runnable {
        @Override
        public void run() {
            synchronized (backend) {
                if (buffer.isOpen() && backend.isOpen()) {
                    backend.context().makeCurrent();
                    buffer.close();
                }
            }
        }
    }

    @Override
    public void forward(Cache cache, int[] tokens, int offset, int count, int start, float[] logits, boolean allLogits) {
        if (!(cache instanceof KvCache kv) || kv.owner() != this) {
            throw new IllegalArgumentException("the cache was not made by this model's CUDA forward pass");
        }
        synchronized (backend) {
            backend.checkOpen();
            if (!kv.buffer.isOpen()) {
                throw new IllegalStateException("the session's KV cache was released");
            }
            context.makeCurrent();
            int vocab = config.vocabSize();
            for (int done = 0; done < count; done += MAX_BATCH) {
                int n = Math.min(MAX_BATCH, count - done);
                ForwardWorkspace ws = workspace(n, kv.capacity());
                pendingResidual = false;
                embed(ws, tokens, offset + done, n, start + done);
                for (int l = 0; l < layers.size(); l++) {
                    attention(ws, kv, l, layers.get(l), n, start + done);
                    feedForward(ws, layers.get(l), n);
                }
                if (allLogits) {
                    logits(ws, 0, n, logits, done * vocab);
                } else if (done + n == count) {
                    logits(ws, n - 1, 1, logits, 0);
                }
            }
        }
    }

    /** The device buffers of a forward pass, grown to the largest batch and cache seen. */
    private ForwardWorkspace workspace(int n, int capacity) {
        if (work == null || !work.fits(n, capacity)) {
            if (work != null) {
                work.close();
            }
            int batch = work == null ? n : Math.max(n, work.batch);
            int positions = work == null ? capacity : Math.max(capacity, work.positions);
            work = new ForwardWorkspace(context, config, batch, positions);
        }
        return work;
    }

    /** Token (and learned position) embeddings, looked up on the host and copied in; rotary angles too. */
    private void embed(ForwardWorkspace ws, int[] tokens, int offset, int n, int start) {
        int d = config.dim();
        float[] x = new float[n * d];
        float[] pos = host.positionEmbedding() == null ? null : new float[d];
        for (int i = 0; i < n; i++) {
            host.tokenEmbedding().dequantizeRow(tokens[offset + i], x, i * d);
            if (pos != null) {
                host.positionEmbedding().dequantizeRow(start + i, pos, 0);
                for (int j = 0; j < d; j++) {
                    x[i * d + j] += pos[j];
                }
            }
        }
        ws.put(x, ws.x);
        if (rope != null) {
            int half = config.ropeDims() / 2;
            float[] cos = new float[n * half];
            float[] sin = new float[n * half];
            float[] c = new float[half];
            float[] s = new float[half];
            for (int i = 0; i < n; i++) {
                rope.angles(start + i, c, s);
                System.arraycopy(c, 0, cos, i * half, half);
                System.arraycopy(s, 0, sin, i * half, half);
            }
            ws.put(cos, ws.cos);
            ws.put(sin, ws.sin);
        }
    }

    private void attention(ForwardWorkspace ws, KvCache kv, int l, Layer w, int n, int start) {
        int qd = config.qDim();
        int kvd = config.kvDim();
        Matrix first = w.wqkv() != null ? w.wqkv() : w.wq();
        DeviceRounding ready = norm(ws, 0, n, w.attnNorm(), w.attnNormBias(), first.rounding());
        long keys = kv.keys(l, start);
        long values = kv.values(l, start);
        long q = ws.q.address();
        KernelArgs sources;
        if (w.wqkv() != null) {
            int width = qd + 2 * kvd;
            long qkv = ws.qkv.address();
            matmuls(ws, ws.xb.address(), n, new Matrix[] {w.wqkv()}, new long[] {qkv}, ready);
            long bias = w.bqkv() == null ? 0 : w.bqkv().address();
            sources = new KernelArgs().pointer(qkv).pointer(qkv + 4L * qd).pointer(qkv + 4L * (qd + kvd))
                    .i32(width).i32(width).pointer(q).pointer(keys).pointer(values).pointer(bias)
                    .pointer(bias == 0 ? 0 : bias + 4L * qd).pointer(bias == 0 ? 0 : bias + 4L * (qd + kvd));
        } else {
            // Keys and values are written straight into the cache: its positions are rows of kvd floats.
            matmuls(ws, ws.xb.address(), n, new Matrix[] {w.wq(), w.wk(), w.wv()}, new long[] {q, keys, values}, ready);
            sources = new KernelArgs().pointer(q).pointer(keys).pointer(values).i32(qd).i32(kvd).pointer(q)
                    .pointer(keys).pointer(values).pointer(address(w.bq())).pointer(address(w.bk()))
                    .pointer(address(w.bv()));
        }
        // Biases, rotary embeddings and the cache's half precision (the query rounded too, for the dot products
        // with it) in one launch.
        int neox = rope != null && config.ropeStyle() == Rope.Style.NEOX ? 1 : 0;
        context.launch("qkv_rope", LaunchPlanner.qkvRope(config.heads(), config.kvHeads(), config.headDim(), n),
                sources.pointer(ws.cos).pointer(ws.sin).i32(config.heads()).i32(config.kvHeads())
                        .i32(config.headDim()).i32(rope == null ? 0 : config.ropeDims()).i32(neox)
                        .i32(kv.halfPrecision ? 1 : 0));
        float scale = (float) (1.0 / Math.sqrt(config.headDim()));
        DeviceRounding outputRounding = attentionRounding(w.wo().rounding());
        int heads = config.heads();
        int chunk = (int) Math.max(1, Math.min(n, SCORE_BUDGET / ((long) heads * kv.capacity())));
        for (int j = 0; j < n; j += chunk) {
            int queries = Math.min(chunk, n - j);
            context.launch("attention", LaunchPlanner.attention(heads, queries), new KernelArgs()
                    .pointer(q + 4L * j * qd).pointer(kv.keys(l, 0)).pointer(kv.values(l, 0))
                    .pointer(ws.att.address() + 4L * j * qd).pointer(ws.scores).i32(heads).i32(config.kvHeads())
                    .i32(config.headDim()).i32(start + j).i32(kv.capacity()).f32(scale)
                    .pointer(ws.rounded.address() + 4L * j * qd).i32(outputRounding.code())
                    .pointer(integers(ws, n, outputRounding)));
        }
        matmuls(ws, ws.att.address(), n, new Matrix[] {w.wo()}, new long[] {ws.proj.address()}, outputRounding);
        addBias(ws.proj.address(), w.bo(), config.dim(), n);
        pendingResidual = true;
    }

    /**
     * The rounding the attention kernel gives its output for the output projection: element-wise ones, and
     * Q8_0 where every head is whole 32-element blocks; NONE leaves a Q8_K (or odd-headed Q8_0) rounding to
     * the projection's own launch.
     */
    private DeviceRounding attentionRounding(DeviceRounding projection) {
        return switch (projection) {
            case NONE, F16, BF16 -> projection;
            case Q8_0 -> config.headDim() % DeviceRounding.Q8_0.block() == 0 ? projection : DeviceRounding.NONE;
            case Q8_K -> DeviceRounding.NONE;
        };
    }

    private void feedForward(ForwardWorkspace ws, Layer w, int n) {
        int d = config.dim();
        int f = config.ffnDim();
        Matrix first = w.gate() != null ? w.gate() : w.up();
        DeviceRounding ready = norm(ws, 0, n, w.ffnNorm(), w.ffnNormBias(), first.rounding());
        long hb = ws.hb.address();
        long hb2 = ws.hb2.address();
        DeviceRounding down = w.down().rounding();
        if (w.gate() != null) {
            matmuls(ws, ws.xb.address(), n, new Matrix[] {w.gate(), w.up()}, new long[] {hb, hb2}, ready);
            siluMulRound(ws, hb, hb2, f, f, n, down);
        } else if (w.fusedGateUp()) {
            // Rows 0..f-1 of the fused weight are the gate, f..2f-1 the up projection.
            matmuls(ws, ws.xb.address(), n, new Matrix[] {w.up()}, new long[] {ws.gateUp.address()}, ready);
            siluMulRound(ws, ws.gateUp.address(), ws.gateUp.address() + 4L * f, f, 2 * f, n, down);
        } else {
            matmuls(ws, ws.xb.address(), n, new Matrix[] {w.up()}, new long[] {hb}, ready);
            addBias(hb, w.upBias(), f, n);
            context.launch("gelu_half", LaunchPlanner.elementwise(n * f), new KernelArgs().pointer(hb).i32(n * f));
            matmul(ws, w.down(), hb, ws.proj.address(), n);
            addBias(ws.proj.address(), w.downBias(), d, n);
            pendingResidual = true;
            return;
        }
        matmuls(ws, hb, n, new Matrix[] {w.down()}, new long[] {ws.proj.address()}, down);
        addBias(ws.proj.address(), w.downBias(), d, n);
        pendingResidual = true;
    }

    /** Final norm of tokens {@code first..first+n-1} of the batch, the LM head, logits copied back. */
    private void logits(ForwardWorkspace ws, int first, int n, float[] out, int outOffset) {
        int vocab = config.vocabSize();
        DeviceRounding ready = norm(ws, first, n, outputNorm, outputNormBias, output.rounding());
        matmuls(ws, ws.xb.address(), n, new Matrix[] {output}, new long[] {ws.logits.address()}, ready);
        ws.get(ws.logits, out, outOffset, n * vocab);
    }

    /**
     * Normalises tokens {@code first..first+n-1} of the residual stream {@code ws.x} into {@code ws.xb}, first
     * adding the pending sub-layer output ({@code ws.proj}) to it, and rounds the result into {@code ws.rounded}
     * as {@code next} (the product that reads it) needs: the residual add, the norm and the rounding are one
     * launch. Returns the rounding {@code ws.rounded} now holds.
     */
    private DeviceRounding norm(ForwardWorkspace ws, int first, int n, DeviceBuffer weight, DeviceBuffer bias,
                                DeviceRounding next) {
        int d = config.dim();
        long residual = 0;
        if (pendingResidual) {
            if (first == 0) {
                residual = ws.proj.address();
            } else {
                add(ws.x.address(), ws.proj.address(), (first + n) * d);
            }
            pendingResidual = false;
        }
        long x = ws.x.address() + 4L * first * d;
        long rounded = ws.rounded.address();
        if (config.family() == Family.GPT2) {
            context.launch("layer_norm_round", LaunchPlanner.norm(n), new KernelArgs().pointer(ws.xb).pointer(rounded)
                    .pointer(x).pointer(residual).pointer(weight).pointer(bias).i32(d).f32(config.normEps())
                    .i32(next.code()).pointer(integers(ws, n, next)));
        } else {
            context.launch("rms_norm_round", LaunchPlanner.norm(n), new KernelArgs().pointer(ws.xb).pointer(rounded)
                    .pointer(x).pointer(residual).pointer(weight).i32(d).f32(config.normEps()).i32(next.code())
                    .pointer(integers(ws, n, next)));
        }
        return next;
    }

    /** {@code y = w · round(x)} for {@code n} tokens, rounding as the CPU backend does for w's format. */
    private void matmul(ForwardWorkspace ws, Matrix m, long x, long y, int n) {
        matmuls(ws, x, n, new Matrix[] {m}, new long[] {y}, DeviceRounding.NONE);
    }

    /**
     * {@code ys[i] = ms[i] · round(x)} for products that share their input: {@code ws.rounded} already holds x
     * rounded as {@code ready} (NONE: nothing yet), and each rounding is made once while the next matrix needs
     * the same (Q and K and V, gate and up, in the usual files).
     */
    private void matmuls(ForwardWorkspace ws, long x, int n, Matrix[] ms, long[] ys, DeviceRounding ready) {
        DeviceRounding held = ready;
        for (int i = 0; i < ms.length; ) {
            Matrix m = ms[i];
            long input = x;
            if (m.rounding() != DeviceRounding.NONE) {
                if (m.rounding() != held) {
                    LaunchPlanner.Launch r = LaunchPlanner.rounding(m.rounding(), n * m.cols());
                    context.launch(r.kernel(), r.config(), new KernelArgs().pointer(ws.rounded).pointer(x)
                            .i32(n * m.cols()).pointer(integers(ws, n, m.rounding())));
                    held = m.rounding();
                }
                input = ws.rounded.address();
            }
            int together = n == 1 ? sharedLaunch(ms, i) : 1;
            boolean ints = n == 1 && roundedInts && m.rounding().hasIntegers()
                    && LaunchPlanner.hasIntegerProduct(m.weight().format().device());
            if (ints || together > 1) {
                decodeProducts(ms, ys, i, together, ints ? ws.roundedInts.address() : input, ints);
            } else {
                multiply(ws, m, input, ys[i], n);
            }
            i += together;
        }
    }

    /** How many of {@code ms[i..]} (at most 3) one decode launch can multiply: same device format and width. */
    private static int sharedLaunch(Matrix[] ms, int i) {
        int k = 1;
        while (k < LaunchPlanner.MAX_MATVECS && i + k < ms.length
                && ms[i + k].weight().format().device() == ms[i].weight().format().device()
                && ms[i + k].weight().rowBytes() == ms[i].weight().rowBytes()
                && ms[i + k].cols() == ms[i].cols() && ms[i + k].rounding() == ms[i].rounding()) {
            k++;
        }
        return k;
    }

    /**
     * Where a producer of {@code n} tokens rounded as {@code r} also writes them as integers (0: nowhere), and
     * records whether it does: one token, Q8_0 or Q8_K, integer products on.
     */
    private long integers(ForwardWorkspace ws, int n, DeviceRounding r) {
        roundedInts = INTEGER_PRODUCTS && n == 1 && r.hasIntegers();
        return roundedInts ? ws.roundedInts.address() : 0;
    }

    /**
     * {@code ys[i+j] = ms[i+j] · input} for j < count (at most {@link LaunchPlanner#MAX_MATVECS}), one token, in one
     * launch: {@code matvecs_*} for several matrices, and with {@code ints} the integer products
     * ({@code matvec(s)_q8x_*}) of activations held as integers at {@code input}.
     */
    private void decodeProducts(Matrix[] ms, long[] ys, int i, int count, long input, boolean ints) {
        Matrix m = ms[i];
        GgmlType type = m.weight().format().device();
        int cols = m.cols();
        int threads = ints ? LaunchPlanner.integerThreadsPerRow(type, cols) : LaunchPlanner.threadsPerRow(cols);
        if (count == 1) {
            LaunchPlanner.Launch l = ints ? LaunchPlanner.matVecInts(type, m.rows(), cols, false)
                    : LaunchPlanner.matVec(type, m.rows(), cols);
            context.launch(l.kernel(), l.config(), new KernelArgs().pointer(m.weight().buffer())
                    .i64(m.weight().rowBytes()).pointer(input).pointer(ys[i]).i32(m.rows()).i32(cols).i32(threads));
            return;
        }
        int[] rows = new int[LaunchPlanner.MAX_MATVECS];
        long[] weights = new long[LaunchPlanner.MAX_MATVECS];
        long[] outs = new long[LaunchPlanner.MAX_MATVECS];
        for (int j = 0; j < count; j++) {
            rows[j] = ms[i + j].rows();
            weights[j] = ms[i + j].weight().buffer().address();
            outs[j] = ys[i + j];
        }
        int total = rows[0] + rows[1] + rows[2];
        LaunchPlanner.Launch l = ints ? LaunchPlanner.matVecInts(type, total, cols, true)
                : LaunchPlanner.matVecs(type, total, cols);
        context.launch(l.kernel(), l.config(), new KernelArgs().pointer(weights[0]).pointer(weights[1])
                .pointer(weights[2]).i64(m.weight().rowBytes()).pointer(input).pointer(outs[0]).pointer(outs[1])
                .pointer(outs[2]).i32(rows[0]).i32(rows[1]).i32(rows[2]).i32(cols).i32(threads));
    }

    /** {@code y = w · input}, the input already rounded for w's format. */
    private void multiply(ForwardWorkspace ws, Matrix m, long input, long y, int n) {
        GgmlType type = m.weight().format().device();
        int splits = LaunchPlanner.splits(m.rows(), m.cols(), n, context.device().multiprocessors(),
                ws.partial.bytes() / Float.BYTES);
        LaunchPlanner.Launch l = n == 1 ? LaunchPlanner.matVec(type, m.rows(), m.cols())
                : LaunchPlanner.mulMatSplit(type, m.rows(), n, splits);
        context.launch(l.kernel(), l.config(), LaunchPlanner.productArgs(m.weight().buffer().address(),
                m.weight().rowBytes(), input, y, m.rows(), m.cols(), n, splits, ws.partial.address()));
        if (splits > 1) {
            context.launch("sum_splits", LaunchPlanner.elementwise(n * m.rows()), new KernelArgs().pointer(y)
                    .pointer(ws.partial).i32(n * m.rows()).i32(splits));
        }
    }

    private static long address(DeviceBuffer b) {
        return b == null ? 0 : b.address();
    }

    private void addBias(long x, DeviceBuffer bias, int width, int n) {
        if (bias != null) {
            context.launch("add_bias", LaunchPlanner.elementwise(n * width), new KernelArgs().pointer(x).pointer(bias)
                    .i32(width).i32(n * width));
        }
    }

    /**
     * {@code gate} rows of {@code width} floats {@code stride} apart: {@code ws.hb = silu(gate) * up}, and
     * {@code ws.rounded} = that rounded as {@code r}, in one launch.
     */
    private void siluMulRound(ForwardWorkspace ws, long gate, long up, int width, int stride, int n, DeviceRounding r) {
        int count = n * width;
        context.launch("silu_mul_round", LaunchPlanner.siluMulRound(r, count), new KernelArgs().pointer(ws.hb)
                .pointer(ws.rounded).pointer(gate).pointer(up).i32(width).i32(stride).i32(count).i32(r.code())
                .pointer(integers(ws, n, r)));
    }

    private void add(long x, long y, int n) {
        context.launch("add", LaunchPlanner.elementwise(n), new KernelArgs().pointer(x).pointer(y).i32(n));
    }

}
