package dev.isthmus.core.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Fills a tensor's bytes when {@link GgufWriter} reaches it, after the header is out: the writer lends one
 * buffer of exactly the tensor's size and frees it once the bytes are written, so a file is written with one
 * tensor in memory at a time. The buffer may be written from several threads (it is shared) until
 * {@link #produce} returns.
 *
 * <pre>{@code
 * writer.addTensor("blk.0.attn_q.weight", GgmlType.Q8_0, dims, target -> encodeRows(source, target));
 * }</pre>
 */
@FunctionalInterface
public interface TensorDataProducer {
    /** Writes all of {@code target}'s bytes (its size is the tensor's byte size). */
    void produce(MemorySegment target) throws IOException;
}
