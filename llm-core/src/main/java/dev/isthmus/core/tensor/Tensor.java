package dev.isthmus.core.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * An n-dimensional array stored in a {@link MemorySegment} — usually a read-only mapping of a model
 * file, never a heap copy.
 *
 * <p>Shapes are row-major, outermost dimension first: a weight matrix with 512 rows of 64 elements has
 * shape {@code [512, 64]} (GGUF lists the same dimensions innermost first, as {@code [64, 512]}).
 * Rows are packed (the last dimension is contiguous, in whole blocks for quantized types); the outer
 * dimensions carry byte strides, so {@link #row}, {@link #slice} and {@link #reshape} are views that
 * share memory. The memory belongs to whoever created the segment's arena (a model file, or the
 * caller of {@link #allocate}); once that is closed every access fails with
 * {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (GgufFile gguf = GgufFile.open(path)) {
 *     Tensor embeddings = gguf.tensor("token_embd.weight");   // [vocab, dim]
 *     float[] row = embeddings.row(42).toFloatArray();
 * }
 * }</pre>
 */
public final class Tensor {
    private final String name;
    private final GgmlType type;
    private final MemorySegment segment;
    private final long[] shape;
    /** Byte stride of every dimension but the last (which is packed). */
    private final long[] strides;

    private Tensor(String name, GgmlType type, MemorySegment segment, long[] shape, long[] strides) {
        this.name = name;
        this.type = type;
        this.segment = segment;
        this.shape = shape;
        this.strides = strides;
    }

    /**
     * A packed tensor over {@code data}, which must hold exactly the bytes the shape needs.
     *
     * @throws IllegalArgumentException if the shape is empty or negative, its last dimension is not a whole
     *                                  number of blocks, or the data size does not match
     */
    public static Tensor of(String name, GgmlType type, MemorySegment data, long... shape) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        long[] dims = checkShape(name, type, shape);
        long bytes = packedBytes(name, type, dims);
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + type + Arrays.toString(dims)
                    + " needs " + bytes + " bytes but its data holds " + data.byteSize());
        }
        return new Tensor(name, type, data, dims, packedStrides(type, dims));
    }

    /** A zero-filled packed tensor whose memory belongs to {@code arena}. */
    public static Tensor allocate(String name, GgmlType type, Arena arena, long... shape) {
        long[] dims = checkShape(name, type, shape);
        MemorySegment data = arena.allocate(packedBytes(name, type, dims), 64);
        return new Tensor(name, type, data, dims, packedStrides(type, dims));
    }

    /** An F32 tensor holding a copy of {@code values}, owned by {@code arena}. */
    public static Tensor ofFloats(String name, Arena arena, float[] values, long... shape) {
        Tensor t = allocate(name, GgmlType.F32, arena, shape);
        if (t.elementCount() != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape)
                    + " needs " + t.elementCount() + " values, got " + values.length);
        }
        MemorySegment.copy(values, 0, t.segment, ValueLayouts.F32, 0, values.length);
        return t;
    }

    private static long[] checkShape(String name, GgmlType type, long[] shape) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("tensor '" + name + "' needs at least one dimension");
        }
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has negative dimension in "
                        + Arrays.toString(shape));
            }
        }
        if (shape[shape.length - 1] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + type + " has rows of "
                    + shape[shape.length - 1] + " elements, not a multiple of its block size " + type.blockSize());
        }
        return shape.clone();
    }

    private static long packedBytes(String name, GgmlType type, long[] dims) {
        try {
            long elements = 1;
            for (long d : dims) {
                elements = Math.multiplyExact(elements, d);
            }
            return type.byteSize(elements);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "' shape " + Arrays.toString(dims)
                    + " overflows a 64-bit byte size", e);
        }
    }

    private static long[] packedStrides(GgmlType type, long[] dims) {
        long[] strides = new long[dims.length - 1];
        long stride = type.byteSize(dims[dims.length - 1]);
        for (int i = dims.length - 2; i >= 0; i--) {
            strides[i] = stride;
            stride *= dims[i];
        }
        return strides;
    }

    public String name() {
        return name;
    }

    public GgmlType type() {
        return type;
    }

    /** The shape, outermost dimension first (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i} (negative counts from the end). */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Elements per row: the size of the last dimension. */
    public long rowLength() {
        return shape[shape.length - 1];
    }

    /** Number of rows: the product of all dimensions but the last. */
    public long rowCount() {
        long n = 1;
        for (int i = 0; i < shape.length - 1; i++) {
            n *= shape[i];
        }
        return n;
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return type.byteSize(rowLength());
    }

    /** True when rows follow each other without gaps (so {@link #segment()} is exactly the data). */
    public boolean isPacked() {
        long expected = rowBytes();
        for (int i = shape.length - 2; i >= 0; i--) {
            if (shape[i] > 1 && strides[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /** The memory this view starts at; for packed tensors exactly {@link #byteSize()} bytes. */
    public MemorySegment segment() {
        checkOpen();
        return segment;
    }

    /** Bytes occupied by the elements of this (packed) tensor. */
    public long byteSize() {
        return type.byteSize(elementCount());
    }

    /** Whether the memory behind this tensor can still be used. */
    public boolean isOpen() {
        return segment.scope().isAlive();
    }

    private void checkOpen() {
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException("tensor '" + name + "' can no longer be used: the model or arena "
                    + "that owns its memory was closed");
        }
    }

    /** Byte offset (within {@link #segment()}) of the start of row {@code r} (rows flattened). */
    public long rowOffset(long r) {
        if (r < 0 || r >= rowCount()) {
            throw new IndexOutOfBoundsException("row " + r + " of tensor '" + name + "' with "
                    + rowCount() + " rows");
        }
        long offset = 0;
        for (int i = shape.length - 2; i >= 0; i--) {
            offset += (r % shape[i]) * strides[i];
            r /= shape[i];
        }
        return offset;
    }

    /** The sub-tensor at index {@code i} of the first dimension (rank drops by one; a vector stays rank 1). */
    public Tensor row(long i) {
        checkOpen();
        if (shape.length == 1) {
            return slice(0, i, i + 1);
        }
        Objects.checkIndex(i, shape[0]);
        long[] dims = Arrays.copyOfRange(shape, 1, shape.length);
        long[] st = Arrays.copyOfRange(strides, 1, strides.length);
        MemorySegment start = segment.asSlice(i * strides[0], spanBytes(dims, st));
        return new Tensor(name + "[" + i + "]", type, start, dims, st);
    }

    /**
     * Elements {@code [start, end)} of dimension {@code dim}. On the last dimension of a quantized tensor
     * both bounds must fall on block boundaries.
     */
    public Tensor slice(int dim, long start, long end) {
        checkOpen();
        Objects.checkIndex(dim, shape.length);
        if (start < 0 || end > shape[dim] || start > end) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of dimension " + dim
                    + " (size " + shape[dim] + ") of tensor '" + name + "'");
        }
        long[] dims = shape.clone();
        dims[dim] = end - start;
        long byteStart;
        if (dim == shape.length - 1) {
            if (start % type.blockSize() != 0 || end % type.blockSize() != 0) {
                throw new IllegalArgumentException("slice [" + start + ", " + end + ") of tensor '" + name
                        + "' cuts through " + type + " blocks of " + type.blockSize());
            }
            byteStart = type.byteSize(start);
        } else {
            byteStart = start * strides[dim];
        }
        MemorySegment view = segment.asSlice(byteStart, spanBytes(dims, strides));
        return new Tensor(name, type, view, dims, strides.clone());
    }

    /** The same packed data seen with another shape of the same element count. */
    public Tensor reshape(long... newShape) {
        checkOpen();
        if (!isPacked()) {
            throw new IllegalStateException("tensor '" + name + "' is a strided view; only packed tensors can be reshaped");
        }
        long[] dims = checkShape(name, type, newShape);
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        if (n != elementCount()) {
            throw new IllegalArgumentException("cannot reshape tensor '" + name + "' of " + Arrays.toString(shape)
                    + " (" + elementCount() + " elements) to " + Arrays.toString(dims));
        }
        return new Tensor(name, type, segment.asSlice(0, byteSize()), dims, packedStrides(type, dims));
    }

    private long spanBytes(long[] dims, long[] st) {
        for (long d : dims) {
            if (d == 0) {
                return 0;
            }
        }
        long span = type.byteSize(dims[dims.length - 1]);
        for (int i = 0; i < dims.length - 1; i++) {
            span += (dims[i] - 1) * st[i];
        }
        return span;
    }

    private long elementOffset(long[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("tensor '" + name + "' has rank " + shape.length + ", got index "
                    + Arrays.toString(index));
        }
        long offset = 0;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside tensor '"
                        + name + "' of shape " + Arrays.toString(shape));
            }
            offset += i == index.length - 1 ? type.byteSize(index[i]) : index[i] * strides[i];
        }
        return offset;
    }

    /**
     * The element at {@code index} as a float, for F32, F16, BF16, F64 and integer tensors.
     *
     * @throws UnsupportedOperationException for block-quantized types (use {@link #toFloatArray})
     */
    public float getFloat(long... index) {
        checkOpen();
        long at = elementOffset(index);
        return switch (type) {
            case F32 -> segment.get(ValueLayouts.F32, at);
            case F16 -> Half.f16ToFloat(segment.get(ValueLayouts.I16, at));
            case BF16 -> Half.bf16ToFloat(segment.get(ValueLayouts.I16, at));
            case F64 -> (float) segment.get(ValueLayouts.F64, at);
            case I8 -> segment.get(ValueLayouts.I8, at);
            case I16 -> segment.get(ValueLayouts.I16, at);
            case I32 -> segment.get(ValueLayouts.I32, at);
            case I64 -> segment.get(ValueLayouts.I64, at);
            default -> throw new UnsupportedOperationException("tensor '" + name + "' is " + type
                    + ": single elements of block formats are read with toFloatArray()/dequantizeRow()");
        };
    }

    /**
     * Stores {@code value} at {@code index} (F32, F16, BF16); fails on read-only (mapped) memory.
     *
     * @throws UnsupportedOperationException for other types
     */
    public void setFloat(float value, long... index) {
        checkOpen();
        long at = elementOffset(index);
        switch (type) {
            case F32 -> segment.set(ValueLayouts.F32, at, value);
            case F16 -> segment.set(ValueLayouts.I16, at, Half.floatToF16(value));
            case BF16 -> segment.set(ValueLayouts.I16, at, Half.floatToBf16(value));
            default -> throw new UnsupportedOperationException("tensor '" + name + "' is " + type
                    + ": setFloat supports F32, F16 and BF16");
        }
    }

    /** The format that does this tensor's arithmetic, or a clear error naming the module to add. */
    public BlockFormat format() {
        return BlockFormats.require(type, "tensor '" + name + "'");
    }

    /** Decodes row {@code r} (rows flattened) into {@code dst[dstOffset..]}. */
    public void dequantizeRow(long r, float[] dst, int dstOffset) {
        checkOpen();
        format().dequantize(segment, rowOffset(r), dst, dstOffset, Math.toIntExact(rowLength()));
    }

    /** Dot product of row {@code r} with {@code x[xOffset..]}. */
    public float dotRow(long r, float[] x, int xOffset) {
        checkOpen();
        return format().dot(segment, rowOffset(r), x, xOffset, Math.toIntExact(rowLength()));
    }

    /** All elements as floats, row-major. */
    public float[] toFloatArray() {
        checkOpen();
        float[] out = new float[Math.toIntExact(elementCount())];
        int n = Math.toIntExact(rowLength());
        BlockFormat f = format();
        long rows = rowCount();
        for (long r = 0; r < rows; r++) {
            f.dequantize(segment, rowOffset(r), out, Math.toIntExact(r * n), n);
        }
        return out;
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + type + Arrays.toString(shape) + "]";
    }
}
