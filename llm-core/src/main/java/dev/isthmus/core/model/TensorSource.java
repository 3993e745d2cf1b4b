package dev.isthmus.core.model;

import dev.isthmus.core.gguf.GgufFile;
import dev.isthmus.core.tensor.Tensor;
import java.util.Optional;

/**
 * Where a model's tensors come from, looked up by their GGUF (llama.cpp) names: a GGUF file directly, or a
 * Hugging Face safetensors checkpoint through a name map. Shapes are outermost first ([rows, cols]).
 */
public interface TensorSource {

    /** The tensor that plays the role {@code ggufName}, if present. */
    Optional<Tensor> find(String ggufName);

    /** The name to show in messages for the tensor playing {@code ggufName}. */
    default String describe(String ggufName) {
        return ggufName;
    }

    /** A source over a GGUF file. */
    static TensorSource of(GgufFile gguf) {
        return name -> gguf.tensorInfo(name).map(i -> gguf.tensor(name));
    }
}
