package dev.isthmus.gpu.cuda;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.model.DecoderWeights;
import dev.isthmus.core.model.DeviceForward;
import dev.isthmus.core.model.ModelConfig;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decoders on an NVIDIA GPU through the CUDA driver API. A decoder's whole forward pass runs on the device
 * ({@link #forwardPass}, {@link CudaForward}): weights uploaded when the model loads, KV cache and activations
 * in device memory, only embeddings in and logits out. {@link #matmul} serves everything else (encoders, and
 * decoders the device pass cannot run): weights stay resident — uploaded at {@link #prepare} or their first
 * product (converted first if no kernel reads their format, see {@link DeviceFormat}) until the backend or the
 * weights' arena closes — while activations go to the device and results come back on every call.
 *
 * <p>Activations are rounded on the host exactly as {@link dev.isthmus.core.backend.cpu.CpuBackend} rounds
 * them ({@link BlockFormat#roundActivations}), so both backends multiply the same numbers and differ only
 * in summation order. Calls are serialised; any thread may call.
 *
 * <pre>{@code
 * try (Backend cuda = Backends.create("cuda", 1)) {
 *     cuda.matmul(weights, activations, out, batch);
 * }
 * }</pre>
 */
public final class CudaBackend implements Backend {
    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());

    private final CudaContext context;
    private final Map<WeightKey, DeviceWeight> weights = new HashMap<>();
    private final Set<GgmlType> announced = EnumSet.noneOf(GgmlType.class);
    private final Arena staging = Arena.ofShared();
    private MemorySegment hostX = MemorySegment.NULL;
    private MemorySegment hostY = MemorySegment.NULL;
    private DeviceBuffer deviceX;
    private DeviceBuffer deviceY;
    private float[] rounded = new float[0];
    private boolean open = true;

    private CudaBackend(CudaContext context) {
        this.context = context;
    }

    /** Opens {@code device}: retains its context and loads the kernels (JIT-compiled by the driver). */
    public static CudaBackend open(CudaDevice device) {
        int target = PtxCatalog.select(device.computeCapability()).orElseThrow(() -> new IllegalArgumentException(
                device + " is older than the kernels' lowest target sm_" + PtxCatalog.minimumTarget()));
        CudaContext context = CudaContext.open(device);
        try {
            context.loadModule(PtxCatalog.load(target));
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, "cuda: {0}, PTX compute_{1}", device, target);
        return new CudaBackend(context);
    }

    /** The GPU this backend runs on. */
    public CudaDevice device() {
        return context.device();
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** One CUDA stream. */
    @Override
    public int threads() {
        return 1;
    }

    @Override
    public boolean supports(Tensor weight) {
        if (weight.rank() != 2 || BlockFormats.find(weight.type()).isEmpty()) {
            return false;
        }
        try {
            DeviceFormat.of(weight.type());
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Uploads a projection matrix when the model loads rather than at its first product. */
    @Override
    public synchronized void prepare(Tensor weight) {
        Backend.super.prepare(weight);
        checkOpen();
        if (supports(weight)) {
            context.makeCurrent();
            resident(weight, Math.toIntExact(weight.dim(0)), Math.toIntExact(weight.dim(1)));
        }
    }

    /**
     * Runs the decoder's whole forward pass on the GPU ({@link CudaForward}), uploading every weight now.
     * Models whose weights need an activation rounding no kernel implements — and every model when the system
     * property {@code isthmus.cuda.forward} is {@code host} — run on the host instead, multiplying here.
     *
     * @throws IllegalStateException if the weights do not fit in free device memory
     */
    @Override
    public synchronized Optional<DeviceForward> forwardPass(ModelConfig config, DecoderWeights weights) {
        checkOpen();
        if ("host".equals(System.getProperty("isthmus.cuda.forward"))) {
            return Optional.empty();
        }
        context.makeCurrent();
        try {
            return Optional.of(CudaForward.upload(this, config, weights));
        } catch (UnsupportedOperationException e) {
            LOG.log(System.Logger.Level.INFO, "cuda: {0}; the forward pass runs on the host, multiplying on the GPU",
                    e.getMessage());
            return Optional.empty();
        }
    }

    void checkOpen() {
        if (!open) {
            throw new IllegalStateException("the CUDA backend on " + device() + " is closed");
        }
    }

    synchronized boolean isOpen() {
        return open;
    }

    @Override
    public synchronized void matmul(Tensor weight, float[] x, float[] out, int batch, boolean referenceRounding) {
        checkOpen();
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("matmul needs a 2-D weight, " + weight + " has rank " + weight.rank());
        }
        int rows = Math.toIntExact(weight.dim(0));
        int cols = Math.toIntExact(weight.dim(1));
        if (batch < 1 || (long) batch * cols > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("matmul of " + weight + " with batch " + batch + " needs "
                    + (long) batch * cols + " inputs and " + (long) batch * rows + " outputs, got "
                    + x.length + " and " + out.length);
        }
        context.makeCurrent();
        DeviceWeight w = resident(weight, rows, cols);
        float[] input = x;
        BlockFormat format = weight.format();
        if (referenceRounding && format.roundsActivations()) {
            if (rounded.length < batch * cols) {
                rounded = new float[batch * cols];
            }
            for (int b = 0; b < batch; b++) {
                format.roundActivations(x, b * cols, rounded, b * cols, cols);
            }
            input = rounded;
        }
        long xBytes = 4L * batch * cols;
        long yBytes = 4L * batch * rows;
        ensureScratch(xBytes, yBytes);
        MemorySegment.copy(input, 0, hostX, ValueLayout.JAVA_FLOAT, 0, batch * cols);
        context.upload(hostX, deviceX, 0, xBytes);
        LaunchPlanner.Launch launch = LaunchPlanner.mulMat(w.format().device(), rows, cols, batch);
        context.launch(launch.kernel(), launch.config(), LaunchPlanner.productArgs(w.buffer().address(), w.rowBytes(),
                deviceX.address(), deviceY.address(), rows, cols, batch, 1, 0L)); // unsplit: no partial sums
        context.download(deviceY, hostY, yBytes);
        MemorySegment.copy(hostY, ValueLayout.JAVA_FLOAT, 0, out, 0, batch * rows);
    }

    /** Grows the activation buffers (host staging and device) to at least the given sizes, doubling. */
    private void ensureScratch(long xBytes, long yBytes) {
        if (deviceX == null || deviceX.bytes() < xBytes) {
            long size = grow(deviceX == null ? 0 : deviceX.bytes(), xBytes);
            if (deviceX != null) {
                deviceX.close();
            }
            deviceX = context.allocate(size, "activations");
            hostX = staging.allocate(size, 64);
        }
        if (deviceY == null || deviceY.bytes() < yBytes) {
            long size = grow(deviceY == null ? 0 : deviceY.bytes(), yBytes);
            if (deviceY != null) {
                deviceY.close();
            }
            deviceY = context.allocate(size, "results");
            hostY = staging.allocate(size, 64);
        }
    }

    static long grow(long current, long needed) {
        return DeviceMemoryPlan.align(Math.max(needed, current * 2));
    }

    /** The device copy of {@code weight}, uploading it on first use. */
    DeviceWeight resident(Tensor weight, int rows, int cols) {
        WeightKey key = WeightKey.of(weight);
        DeviceWeight w = weights.get(key);
        if (w != null) {
            return w;
        }
        evictClosed();
        DeviceFormat format = DeviceFormat.of(weight.type());
        if (format.converted() && announced.add(weight.type())) {
            LOG.log(System.Logger.Level.INFO, "cuda: no kernel reads {0}; {0} weights are converted to {1} at load",
                    weight.type(), format.device());
        }
        long rowBytes = format.deviceRowBytes(cols);
        long bytes = rowBytes * rows;
        DeviceBuffer buffer = context.allocate(bytes, "weight " + weight.name() + " (" + format.device() + ")");
        try {
            upload(weight, format, rows, cols, rowBytes, buffer);
        } catch (RuntimeException e) {
            buffer.close();
            throw e;
        }
        w = new DeviceWeight(buffer, format, rowBytes);
        weights.put(key, w);
        return w;
    }

    private void upload(Tensor weight, DeviceFormat format, int rows, int cols, long rowBytes, DeviceBuffer dst) {
        MemorySegment data = weight.segment();
        if (!format.converted() && weight.isPacked() && data.isNative()) {
            // Straight from the mapped file: no host copy.
            context.upload(data.asSlice(weight.rowOffset(0), rowBytes * rows), dst, 0, rowBytes * rows);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(rowBytes * rows, 64);
            float[] row = format.converted() ? new float[cols] : null;
            BlockFormat source = weight.format();
            for (int r = 0; r < rows; r++) {
                long at = r * rowBytes;
                if (row == null) {
                    MemorySegment.copy(data, weight.rowOffset(r), host, at, rowBytes);
                    continue;
                }
                source.dequantize(data, weight.rowOffset(r), row, 0, cols);
                if (format.device() == GgmlType.F32) {
                    MemorySegment.copy(row, 0, host, ValueLayout.JAVA_FLOAT, at, cols);
                } else {
                    for (int c = 0; c < cols; c++) {
                        host.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * c, Float.floatToFloat16(row[c]));
                    }
                }
            }
            context.upload(host, dst, 0, rowBytes * rows);
        }
    }

    /** Frees device copies of weights whose memory (e.g. a closed model's mapping) is gone. */
    private void evictClosed() {
        for (Iterator<Map.Entry<WeightKey, DeviceWeight>> it = weights.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<WeightKey, DeviceWeight> e = it.next();
            if (!e.getKey().scope().isAlive()) {
                e.getValue().buffer().close();
                it.remove();
            }
        }
    }

    /** The context, for measurements in the same package (GpuCheck). */
    CudaContext context() {
        return context;
    }

    /** Weights resident on the device now. */
    public synchronized int residentWeights() {
        return weights.size();
    }

    /** Frees all device memory and releases the GPU. */
    @Override
    public synchronized void close() {
        if (!open) {
            return;
        }
        open = false;
        weights.clear();
        try {
            context.close();
        } finally {
            staging.close();
        }
    }

    @Override
    public String toString() {
        return "CudaBackend[" + context.device() + "]";
    }

    /**
     * Identifies a weight by its memory, not its {@link Tensor} object (callers may make new views of the
     * same weights); the arena scope keeps a later mapping at the same address from matching.
     */
    record WeightKey(MemorySegment.Scope scope, long address, long bytes, GgmlType type, long rows, long cols) {
        static WeightKey of(Tensor t) {
            MemorySegment s = t.segment();
            return new WeightKey(s.scope(), s.address() + t.rowOffset(0), t.byteSize(), t.type(), t.dim(0), t.dim(1));
        }
    }

    record DeviceWeight(DeviceBuffer buffer, DeviceFormat format, long rowBytes) {
    }
}
