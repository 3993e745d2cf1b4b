/**
 * The CUDA backend: driver API through jextract-generated FFM bindings ({@code dev.isthmus.gpu.cuda.ffi}),
 * kernels shipped as PTX, registered with {@link java.util.ServiceLoader} as {@code "cuda"}.
 *
 * <pre>{@code
 * CudaProbe probe = CudaProbe.system();
 * try (Backend b = Backends.create(probe.available() ? "cuda" : "cpu", 4)) { ... }
 * }</pre>
 */
package dev.isthmus.gpu.cuda;
