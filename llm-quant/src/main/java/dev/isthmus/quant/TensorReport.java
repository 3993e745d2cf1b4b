package dev.isthmus.quant;

import dev.isthmus.core.tensor.GgmlType;

/**
 * What the quantizer did with one tensor.
 *
 * @param index    position in the output file (0-based)
 * @param count    tensors in the file
 * @param name     tensor name
 * @param from     type in the input
 * @param to       type written
 * @param bytesIn  bytes in the input
 * @param bytesOut bytes written (without alignment padding)
 * @param fallback why the recipe's type could not hold this tensor's shape and what was used instead; null if none
 */
public record TensorReport(int index, int count, String name, GgmlType from, GgmlType to, long bytesIn, long bytesOut,
                           String fallback) {
}
