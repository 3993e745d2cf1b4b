package dev.isthmus.core.gguf;

import java.util.Objects;

/**
 * One typed metadata value. {@code value} is an {@code Integer} for UINT8, INT8, UINT16, INT16 and
 * INT32; a {@code Long} for UINT32, INT64 and UINT64 (UINT64 keeps its 64 bits, read it with
 * {@link Long#toUnsignedString}); {@code Float}, {@code Double}, {@code Boolean}, {@code String}, or a
 * {@link GgufArray}. The type is kept so a file can be written back byte for byte.
 *
 * <pre>{@code
 * GgufValue v = GgufValue.uint32(4096);
 * long n = v.asLong();
 * }</pre>
 */
public record GgufValue(GgufValueType type, Object value) {
    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        boolean ok = switch (type) {
            case UINT8, INT8, UINT16, INT16, INT32 -> value instanceof Integer;
            case UINT32, UINT64, INT64 -> value instanceof Long;
            case FLOAT32 -> value instanceof Float;
            case FLOAT64 -> value instanceof Double;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> value instanceof GgufArray;
        };
        if (!ok) {
            throw new IllegalArgumentException(type + " value cannot hold " + value.getClass().getSimpleName());
        }
    }

    public static GgufValue string(String s) {
        return new GgufValue(GgufValueType.STRING, s);
    }

    public static GgufValue uint32(long v) {
        if (v < 0 || v > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("UINT32 out of range: " + v);
        }
        return new GgufValue(GgufValueType.UINT32, v);
    }

    public static GgufValue int32(int v) {
        return new GgufValue(GgufValueType.INT32, v);
    }

    public static GgufValue uint64(long v) {
        return new GgufValue(GgufValueType.UINT64, v);
    }

    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, v);
    }

    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v);
    }

    public static GgufValue array(GgufArray a) {
        return new GgufValue(GgufValueType.ARRAY, a);
    }

    /** The value as a long, for any integer type. */
    public long asLong() {
        if (value instanceof Integer i) {
            return i;
        }
        if (value instanceof Long l) {
            return l;
        }
        throw new IllegalStateException("a " + type + " value is not an integer");
    }

    /** The value as a plain Java object: arrays become read-only lists. */
    public Object plain() {
        return value instanceof GgufArray a ? a.asList() : value;
    }

    @Override
    public String toString() {
        return type == GgufValueType.STRING ? "\"" + value + "\"" : String.valueOf(value);
    }
}
