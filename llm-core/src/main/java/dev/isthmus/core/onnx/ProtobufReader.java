package dev.isthmus.core.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked reader of protobuf wire format over a segment: enough to walk ONNX messages without
 * generated classes. Length-delimited fields are returned as slices (never copied), so a 90 MB model's
 * weights stay in the file mapping.
 */
final class ProtobufReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final MemorySegment data;
    private long pos;
    private int field;
    private int wireType;

    ProtobufReader(MemorySegment data) {
        this.data = data;
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (pos >= data.byteSize()) {
            return false;
        }
        long key = varint();
        field = (int) (key >>> 3);
        wireType = (int) (key & 7);
        if (field <= 0) {
            throw new OnnxFormatException("protobuf field number " + field + " at byte " + pos);
        }
        return true;
    }

    int field() {
        return field;
    }

    int wireType() {
        return wireType;
    }

    long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= data.byteSize()) {
                throw new OnnxFormatException("protobuf varint runs past the end at byte " + pos);
            }
            byte b = data.get(ValueLayout.JAVA_BYTE, pos++);
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new OnnxFormatException("protobuf varint longer than 10 bytes at byte " + pos);
    }

    MemorySegment bytes() {
        expect(LENGTH_DELIMITED);
        long n = varint();
        if (n < 0 || n > data.byteSize() - pos) {
            throw new OnnxFormatException("protobuf field " + field + " of " + n + " bytes overruns its message at byte " + pos);
        }
        MemorySegment s = data.asSlice(pos, n);
        pos += n;
        return s;
    }

    String string() {
        return new String(bytes().toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    float fixed32Float() {
        expect(FIXED32);
        need(4);
        float f = data.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), pos);
        pos += 4;
        return f;
    }

    /** Skips the current field's value. */
    void skip() {
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> {
                need(8);
                pos += 8;
            }
            case LENGTH_DELIMITED -> bytes();
            case FIXED32 -> {
                need(4);
                pos += 4;
            }
            default -> throw new OnnxFormatException("unsupported protobuf wire type " + wireType + " at byte " + pos);
        }
    }

    /** Reads a repeated int64 field in either packed or unpacked encoding, appending to {@code into}. */
    void int64s(java.util.List<Long> into) {
        if (wireType == VARINT) {
            into.add(varint());
        } else {
            ProtobufReader packed = new ProtobufReader(bytes());
            while (packed.pos < packed.data.byteSize()) {
                into.add(packed.varint());
            }
        }
    }

    private void expect(int type) {
        if (wireType != type) {
            throw new OnnxFormatException("protobuf field " + field + " has wire type " + wireType + ", expected " + type);
        }
    }

    private void need(int n) {
        if (data.byteSize() - pos < n) {
            throw new OnnxFormatException("protobuf field " + field + " truncated at byte " + pos);
        }
    }
}
