package dev.isthmus.quant;

import dev.isthmus.core.tensor.QuantizedActivations;
import java.lang.foreign.MemorySegment;

/**
 * The scalar oracle of a format's integer kernel ({@code dotQuantized}): exact integer sums per block, each
 * scaled and added in block order. Tests compare the vector kernel with it.
 */
interface IntegerTwin {
    float dotQuantizedScalar(MemorySegment data, long offset, QuantizedActivations x, int xOffset, int count);
}
