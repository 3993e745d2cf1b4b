package dev.isthmus.gpu.cuda;

/**
 * A CUDA driver call failed. The message names the call, the driver's error name and text, and what
 * Isthmus was doing (the tensor being uploaded, the kernel being launched).
 *
 * <pre>{@code
 * try { backend.matmul(w, x, y, 1); }
 * catch (CudaException e) { log(e.call() + " -> " + e.result()); }
 * }</pre>
 */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int result;

    CudaException(String call, int result, String message) {
        super(message);
        this.call = call;
        this.result = result;
    }

    /** The driver function that failed, e.g. {@code cuMemAlloc_v2}. */
    public String call() {
        return call;
    }

    /** The driver's {@code CUresult} code. */
    public int result() {
        return result;
    }
}
