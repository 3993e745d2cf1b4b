package dev.isthmus.gpu.cuda;

/**
 * One GPU as the driver reports it.
 *
 * <pre>{@code
 * CudaDevice d = CudaProbe.system().devices().getFirst();
 * System.out.println(d);   // cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)
 * }</pre>
 *
 * @param ordinal          the driver's device number
 * @param name             marketing name
 * @param totalMemory      bytes of device memory
 * @param computeCapability major * 10 + minor, e.g. 90 for Hopper
 * @param multiprocessors  streaming multiprocessors
 */
public record CudaDevice(int ordinal, String name, long totalMemory, int computeCapability, int multiprocessors) {

    @Override
    public String toString() {
        return String.format("cuda:%d %s (sm_%d, %d SMs, %.1f GiB)", ordinal, name, computeCapability,
                multiprocessors, totalMemory / (double) (1L << 30));
    }
}
