package dev.isthmus.core.model;

/** The model file names an architecture Isthmus has no forward pass for. */
public final class UnsupportedArchitectureException extends RuntimeException {
    public UnsupportedArchitectureException(String architecture) {
        super("unsupported model architecture '" + architecture + "' (general.architecture); Isthmus runs "
                + "llama, mistral, qwen2, phi3 and gpt2 decoders" + (architecture.equals("bert")
                ? " — bert is an encoder: load it with Llm.encoder()" : ""));
    }
}
