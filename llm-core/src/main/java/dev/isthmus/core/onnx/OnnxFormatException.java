package dev.isthmus.core.onnx;

/** An ONNX file is malformed or uses something the importer does not support; the message says what. */
public final class OnnxFormatException extends RuntimeException {
    public OnnxFormatException(String message) {
        super(message);
    }
}
