package dev.isthmus.gpu.cuda;

/**
 * One allocation of device memory, owned by the {@link CudaContext} that made it: closing the context
 * frees every buffer still open, so a leaked buffer never outlives its model.
 *
 * <pre>{@code
 * DeviceBuffer b = context.allocate(1 << 20, "scratch");
 * context.upload(hostSegment, b, hostSegment.byteSize());
 * b.close();
 * }</pre>
 */
final class DeviceBuffer implements AutoCloseable {
    private final CudaContext owner;
    private final long address;
    private final long bytes;
    private final String label;
    private boolean open = true;

    DeviceBuffer(CudaContext owner, long address, long bytes, String label) {
        this.owner = owner;
        this.address = address;
        this.bytes = bytes;
        this.label = label;
    }

    /** The {@code CUdeviceptr}. */
    long address() {
        if (!open) {
            throw new IllegalStateException("device buffer " + label + " is closed");
        }
        return address;
    }

    /** The pointer even after {@link #close()}, for the owner to free it. */
    long rawAddress() {
        return address;
    }

    long bytes() {
        return bytes;
    }

    String label() {
        return label;
    }

    boolean isOpen() {
        return open;
    }

    /** Frees the memory (once). */
    @Override
    public void close() {
        if (open) {
            open = false;
            owner.free(this);
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + label + ", " + bytes + " bytes]";
    }
}
