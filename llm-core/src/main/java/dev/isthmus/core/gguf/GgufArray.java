package dev.isthmus.core.gguf;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A GGUF array value. Elements are held in a primitive array matching the element type, so a
 * 150,000-entry score table costs 600 KB rather than 150,000 boxed floats:
 * UINT8/INT8 → {@code byte[]}, UINT16/INT16 → {@code short[]}, UINT32/INT32 → {@code int[]},
 * UINT64/INT64 → {@code long[]}, FLOAT32 → {@code float[]}, FLOAT64 → {@code double[]},
 * BOOL → {@code boolean[]}, STRING → {@code String[]}, ARRAY → {@code GgufArray[]}.
 *
 * <pre>{@code
 * GgufArray tokens = (GgufArray) gguf.value("tokenizer.ggml.tokens").orElseThrow().value();
 * String first = (String) tokens.get(0);
 * }</pre>
 */
public record GgufArray(GgufValueType elementType, Object elements) {
    public GgufArray {
        Objects.requireNonNull(elementType, "elementType");
        Objects.requireNonNull(elements, "elements");
        Class<?> expected = switch (elementType) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufArray[].class;
        };
        if (elements.getClass() != expected) {
            throw new IllegalArgumentException(elementType + " array needs " + expected.getSimpleName()
                    + ", got " + elements.getClass().getSimpleName());
        }
    }

    public int size() {
        return java.lang.reflect.Array.getLength(elements);
    }

    /**
     * Element {@code i}, boxed as in {@link GgufValue#value()}: unsigned 8/16-bit values and signed
     * values up to 32 bits as {@code Integer}, UINT32 and 64-bit values as {@code Long}.
     */
    public Object get(int i) {
        return switch (elementType) {
            case UINT8 -> ((byte[]) elements)[i] & 0xFF;
            case INT8 -> (int) ((byte[]) elements)[i];
            case UINT16 -> ((short[]) elements)[i] & 0xFFFF;
            case INT16 -> (int) ((short[]) elements)[i];
            case UINT32 -> ((int[]) elements)[i] & 0xFFFF_FFFFL;
            case INT32 -> ((int[]) elements)[i];
            case UINT64, INT64 -> ((long[]) elements)[i];
            case FLOAT32 -> ((float[]) elements)[i];
            case FLOAT64 -> ((double[]) elements)[i];
            case BOOL -> ((boolean[]) elements)[i];
            case STRING -> ((String[]) elements)[i];
            case ARRAY -> ((GgufArray[]) elements)[i];
        };
    }

    /** A read-only list view; nested arrays appear as nested lists. */
    public List<Object> asList() {
        return new AbstractList<>() {
            @Override
            public Object get(int index) {
                Object v = GgufArray.this.get(index);
                return v instanceof GgufArray a ? a.asList() : v;
            }

            @Override
            public int size() {
                return GgufArray.this.size();
            }
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufArray other && elementType == other.elementType
                && Objects.deepEquals(new Object[] {elements}, new Object[] {other.elements});
    }

    @Override
    public int hashCode() {
        return 31 * elementType.hashCode() + Arrays.deepHashCode(new Object[] {elements});
    }

    @Override
    public String toString() {
        int n = size();
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(n, 8); i++) {
            sb.append(i == 0 ? "" : ", ").append(get(i));
        }
        return sb.append(n > 8 ? ", … (" + n + " " + elementType + ")]" : "]").toString();
    }
}
