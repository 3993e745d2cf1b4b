package dev.isthmus.core.model;

/** A model file is well-formed but does not describe a model Isthmus can build (missing or misshapen tensor). */
public final class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }
}
