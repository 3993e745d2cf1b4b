package dev.isthmus.core.hf;

/**
 * A Hugging Face checkpoint is readable but cannot be turned into GGUF: a tensor with no llama.cpp name, a
 * dtype that is not F32/F16/BF16, a tokenizer llama.cpp has no model for. The message names the file,
 * tensor or component.
 */
public final class CheckpointConversionException extends RuntimeException {
    public CheckpointConversionException(String message) {
        super(message);
    }
}
