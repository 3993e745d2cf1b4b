package dev.isthmus.core.safetensors;

/**
 * A tensor's header entry.
 *
 * @param name  the tensor name
 * @param dtype the element type
 * @param shape row-major dimensions (empty for a scalar)
 * @param begin first byte, relative to the data section
 * @param end   one past the last byte, relative to the data section
 */
public record SafetensorsTensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
    public SafetensorsTensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long byteSize() {
        return end - begin;
    }
}
