package dev.isthmus.core.tensor;

/** A tensor uses a storage format whose kernels are not on the class path. */
public final class UnsupportedFormatException extends RuntimeException {
    private final GgmlType type;

    public UnsupportedFormatException(GgmlType type, String what) {
        super(what + " uses " + type + ", which no registered BlockFormat implements; add "
                + "dev.isthmus:" + type.providingModule() + " to the class path");
        this.type = type;
    }

    /** The unsupported type. */
    public GgmlType type() {
        return type;
    }
}
