package dev.isthmus.core.gguf;

import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.ValueLayouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a GGUF header (versions 1–3) from a segment, trusting nothing: every count and length is
 * checked against the bytes that remain before anything is allocated, so a hostile file costs at most
 * memory proportional to its own size.
 */
final class GgufParser {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    static final int MAX_DIMS = 4;
    static final int MAX_ARRAY_DEPTH = 8;
    private static final int MIN_TENSOR_INFO_BYTES_V1 = 4 + 4 + 4 + 4 + 8; // name len, n_dims, 1 dim, type, offset

    private final MemorySegment data;
    private final long size;
    private long pos;
    private int version;

    private GgufParser(MemorySegment data) {
        this.data = data;
        this.size = data.byteSize();
    }

    /** Parsed header: everything but the tensor data. */
    record Header(int version, Map<String, GgufValue> metadata, List<GgufTensorInfo> tensors, int alignment,
                  long dataOffset) {
    }

    static Header parse(MemorySegment data) {
        return new GgufParser(data).header();
    }

    private Header header() {
        int magic = readInt("magic");
        if (magic != MAGIC) {
            throw new GgufFormatException("magic", 0, String.format(
                    "not a GGUF file (expected bytes 'GGUF', found 0x%08x)", magic));
        }
        long versionAt = pos;
        version = readInt("version");
        if (version < 1 || version > 3) {
            throw new GgufFormatException("version", versionAt, "unsupported GGUF version " + version
                    + " (this reader knows 1, 2 and 3)");
        }
        long tensorCountAt = pos;
        long tensorCount = readCount("tensor count");
        long kvCountAt = pos;
        long kvCount = readCount("metadata count");
        // Every key-value pair needs at least a key length, one key byte and a type id.
        checkCount("metadata count", kvCountAt, kvCount, (version == 1 ? 4 : 8) + 1 + 4);

        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long keyAt = pos;
            String key = readString("metadata[" + i + "] key");
            if (metadata.containsKey(key)) {
                throw new GgufFormatException("metadata key '" + key + "'", keyAt, "duplicate key");
            }
            long typeAt = pos;
            GgufValueType type = valueType("metadata '" + key + "' type", typeAt, readInt("metadata '" + key + "' type"));
            metadata.put(key, readValue("metadata '" + key + "'", type, 0));
        }

        checkCount("tensor count", tensorCountAt, tensorCount, MIN_TENSOR_INFO_BYTES_V1);
        int alignment = alignment(metadata);
        List<GgufTensorInfo> tensors = new ArrayList<>((int) Math.min(tensorCount, 1 << 16));
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            long nameAt = pos;
            String name = readString("tensor[" + i + "] name");
            if (!names.add(name)) {
                throw new GgufFormatException("tensor '" + name + "' name", nameAt, "duplicate tensor name");
            }
            tensors.add(readTensorInfo(name, alignment));
        }
        long headerEnd = pos;
        long dataOffset = align(headerEnd, alignment);
        checkTensorRanges(tensors, dataOffset);
        return new Header(version, metadata, List.copyOf(tensors), alignment, dataOffset);
    }

    private int alignment(Map<String, GgufValue> metadata) {
        GgufValue value = metadata.get("general.alignment");
        if (value == null) {
            return DEFAULT_ALIGNMENT;
        }
        if (value.type() != GgufValueType.UINT32) {
            throw new GgufFormatException("metadata 'general.alignment'", 0,
                    "must be UINT32, found " + value.type());
        }
        long a = value.asLong();
        if (a == 0 || Long.bitCount(a) != 1 || a > (1 << 20)) {
            throw new GgufFormatException("metadata 'general.alignment'", 0,
                    "must be a power of two up to 1 MiB, found " + a);
        }
        return (int) a;
    }

    private GgufTensorInfo readTensorInfo(String name, int alignment) {
        String field = "tensor '" + name + "'";
        long dimsAt = pos;
        int nDims = readInt(field + " n_dims");
        if (nDims < 1 || nDims > MAX_DIMS) {
            throw new GgufFormatException(field + " n_dims", dimsAt, "must be 1.." + MAX_DIMS + ", found "
                    + Integer.toUnsignedString(nDims));
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            long at = pos;
            dims[d] = version == 1 ? Integer.toUnsignedLong(readInt(field + " dim")) : readLong(field + " dim");
            if (dims[d] < 0) {
                throw new GgufFormatException(field + " dim " + d, at, "negative or above 2^63: "
                        + Long.toUnsignedString(dims[d]));
            }
            try {
                elements = Math.multiplyExact(elements, dims[d]);
            } catch (ArithmeticException e) {
                throw new GgufFormatException(field + " dims", at, "element count overflows 64 bits: "
                        + Arrays.toString(Arrays.copyOf(dims, d + 1)));
            }
        }
        long typeAt = pos;
        int typeId = readInt(field + " type");
        GgmlType type = GgmlType.fromId(Integer.toUnsignedLong(typeId)).orElseThrow(() -> new GgufFormatException(
                field + " type", typeAt, "unknown tensor type id " + Integer.toUnsignedString(typeId)));
        if (dims[0] % type.blockSize() != 0) {
            throw new GgufFormatException(field + " dims", dimsAt, "row length " + dims[0]
                    + " is not a multiple of the " + type + " block size " + type.blockSize());
        }
        long byteSize;
        try {
            byteSize = type.byteSize(elements);
        } catch (ArithmeticException e) {
            throw new GgufFormatException(field + " dims", dimsAt, "byte size overflows 64 bits");
        }
        long offsetAt = pos;
        long offset = readLong(field + " offset");
        if (offset < 0 || offset % alignment != 0) {
            throw new GgufFormatException(field + " offset", offsetAt, "offset " + Long.toUnsignedString(offset)
                    + " is not a multiple of the alignment " + alignment);
        }
        return new GgufTensorInfo(name, dims, type, offset, byteSize);
    }

    private void checkTensorRanges(List<GgufTensorInfo> tensors, long dataOffset) {
        if (tensors.isEmpty()) {
            return;
        }
        long dataSize = size - dataOffset;
        if (dataSize < 0) {
            throw new GgufFormatException("data section", dataOffset, "file ends at byte " + size
                    + " before its tensor data starts");
        }
        List<GgufTensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(GgufTensorInfo::offset));
        long previousEnd = 0;
        String previous = null;
        for (GgufTensorInfo t : byOffset) {
            if (t.offset() > dataSize || t.byteSize() > dataSize - t.offset()) {
                throw new GgufFormatException("tensor '" + t.name() + "' data", dataOffset + t.offset(),
                        t.byteSize() + " bytes at data offset " + t.offset() + " run past the end of the file ("
                                + dataSize + " data bytes)");
            }
            if (t.offset() < previousEnd) {
                throw new GgufFormatException("tensor '" + t.name() + "' data", dataOffset + t.offset(),
                        "overlaps tensor '" + previous + "'");
            }
            previousEnd = t.offset() + t.byteSize();
            previous = t.name();
        }
    }

    static long align(long offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    private GgufValueType valueType(String field, long at, int id) {
        return GgufValueType.fromId(Integer.toUnsignedLong(id)).orElseThrow(() -> new GgufFormatException(
                field, at, "unknown value type id " + Integer.toUnsignedString(id)));
    }

    private GgufValue readValue(String field, GgufValueType type, int depth) {
        Object v = switch (type) {
            case UINT8 -> readByte(field) & 0xFF;
            case INT8 -> (int) readByte(field);
            case UINT16 -> readShort(field) & 0xFFFF;
            case INT16 -> (int) readShort(field);
            case UINT32 -> Integer.toUnsignedLong(readInt(field));
            case INT32 -> readInt(field);
            case FLOAT32 -> Float.intBitsToFloat(readInt(field));
            case BOOL -> readBool(field);
            case STRING -> readString(field);
            case ARRAY -> readArray(field, depth);
            case UINT64, INT64 -> readLong(field);
            case FLOAT64 -> Double.longBitsToDouble(readLong(field));
        };
        return new GgufValue(type, v);
    }

    private boolean readBool(String field) {
        long at = pos;
        byte b = readByte(field);
        if (b != 0 && b != 1) {
            throw new GgufFormatException(field, at, "boolean must be 0 or 1, found " + b);
        }
        return b == 1;
    }

    private GgufArray readArray(String field, int depth) {
        if (depth >= MAX_ARRAY_DEPTH) {
            throw new GgufFormatException(field, pos, "arrays nested deeper than " + MAX_ARRAY_DEPTH);
        }
        long typeAt = pos;
        GgufValueType elementType = valueType(field + " element type", typeAt, readInt(field + " element type"));
        long countAt = pos;
        long count = readCount(field + " length");
        int minSize = switch (elementType) {
            case STRING -> version == 1 ? 4 : 8;
            case ARRAY -> 4 + (version == 1 ? 4 : 8);
            default -> elementType.fixedSize();
        };
        checkCount(field + " length", countAt, count, minSize);
        int n = (int) count; // checkCount bounds it by the remaining bytes and Integer.MAX_VALUE
        String item = field + " element";
        return switch (elementType) {
            case UINT8, INT8 -> {
                byte[] a = new byte[n];
                MemorySegment.copy(data, ValueLayouts.I8, pos, a, 0, n);
                pos += n;
                yield new GgufArray(elementType, a);
            }
            case UINT16, INT16 -> {
                short[] a = new short[n];
                MemorySegment.copy(data, ValueLayouts.I16, pos, a, 0, n);
                pos += 2L * n;
                yield new GgufArray(elementType, a);
            }
            case UINT32, INT32 -> {
                int[] a = new int[n];
                MemorySegment.copy(data, ValueLayouts.I32, pos, a, 0, n);
                pos += 4L * n;
                yield new GgufArray(elementType, a);
            }
            case FLOAT32 -> {
                float[] a = new float[n];
                MemorySegment.copy(data, ValueLayouts.F32, pos, a, 0, n);
                pos += 4L * n;
                yield new GgufArray(elementType, a);
            }
            case UINT64, INT64 -> {
                long[] a = new long[n];
                MemorySegment.copy(data, ValueLayouts.I64, pos, a, 0, n);
                pos += 8L * n;
                yield new GgufArray(elementType, a);
            }
            case FLOAT64 -> {
                double[] a = new double[n];
                MemorySegment.copy(data, ValueLayouts.F64, pos, a, 0, n);
                pos += 8L * n;
                yield new GgufArray(elementType, a);
            }
            case BOOL -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) {
                    a[i] = readBool(item);
                }
                yield new GgufArray(elementType, a);
            }
            case STRING -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) {
                    a[i] = readString(item);
                }
                yield new GgufArray(elementType, a);
            }
            case ARRAY -> {
                GgufArray[] a = new GgufArray[n];
                for (int i = 0; i < n; i++) {
                    a[i] = readArray(item, depth + 1);
                }
                yield new GgufArray(elementType, a);
            }
        };
    }

    /** Rejects a count whose elements (each at least {@code minBytes}) cannot fit in the rest of the file. */
    private void checkCount(String field, long at, long count, int minBytes) {
        long remaining = size - pos;
        if (count < 0 || count > Integer.MAX_VALUE - 8 || count > remaining / Math.max(1, minBytes)) {
            throw new GgufFormatException(field, at, "count " + Long.toUnsignedString(count)
                    + " cannot fit in the " + remaining + " bytes left in the file");
        }
    }

    private long readCount(String field) {
        return version == 1 ? Integer.toUnsignedLong(readInt(field)) : readLong(field);
    }

    private String readString(String field) {
        long at = pos;
        long length = version == 1 ? Integer.toUnsignedLong(readInt(field + " length")) : readLong(field + " length");
        if (length < 0 || length > size - pos || length > Integer.MAX_VALUE - 8) {
            throw new GgufFormatException(field, at, "string length " + Long.toUnsignedString(length)
                    + " exceeds the " + (size - pos) + " bytes left in the file");
        }
        byte[] bytes = new byte[(int) length];
        MemorySegment.copy(data, ValueLayouts.I8, pos, bytes, 0, bytes.length);
        pos += length;
        return decodeUtf8(bytes);
    }

    /** Strict UTF-8 first (the common case); invalid sequences are replaced by U+FFFD rather than failing. */
    private static String decodeUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private void need(String field, int bytes) {
        if (size - pos < bytes) {
            throw new GgufFormatException(field, pos, "file truncated: needs " + bytes + " bytes, "
                    + (size - pos) + " left");
        }
    }

    private byte readByte(String field) {
        need(field, 1);
        return data.get(ValueLayouts.I8, pos++);
    }

    private short readShort(String field) {
        need(field, 2);
        short v = data.get(ValueLayouts.I16, pos);
        pos += 2;
        return v;
    }

    private int readInt(String field) {
        need(field, 4);
        int v = data.get(ValueLayouts.I32, pos);
        pos += 4;
        return v;
    }

    private long readLong(String field) {
        need(field, 8);
        long v = data.get(ValueLayouts.I64, pos);
        pos += 8;
        return v;
    }
}
