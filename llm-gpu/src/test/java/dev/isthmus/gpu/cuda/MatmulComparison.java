package dev.isthmus.gpu.cuda;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import dev.isthmus.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Multiplies the same random weights on two backends and measures how far apart the results are. */
final class MatmulComparison {
    private MatmulComparison() {
    }

    /**
     * The relative error allowed between the backends for {@code type}, given {@code sameNumbers} for formats the
     * device multiplies as stored: formats converted to F16 at upload (BF16 excepted: F32 holds it exactly)
     * lose about three decimal digits; Q4_1 and Q5_1 differ by llama.cpp's Q8_1 activations, which keep each
     * block's activation sum (the minimum's multiplier) in half precision where the device sums exactly.
     */
    static double tolerance(GgmlType type, double sameNumbers) {
        if (DeviceFormat.of(type).converted() && type != GgmlType.BF16) {
            return 5e-3;
        }
        return type == GgmlType.Q4_1 || type == GgmlType.Q5_1 ? 1e-3 : sameNumbers;
    }

    /** Largest |a - b| over the largest |a|: the error relative to the result's scale. */
    static double relativeError(float[] expected, float[] actual) {
        double maxDiff = 0;
        double maxAbs = 1e-30;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
        }
        return maxDiff / maxAbs;
    }

    /** Random {@code rows x cols} weights stored as {@code type}, in {@code arena}. */
    static Tensor randomWeights(GgmlType type, int rows, int cols, Arena arena, long seed) {
        Random random = new Random(seed);
        long rowBytes = type.byteSize(cols);
        MemorySegment data = arena.allocate(rowBytes * rows, 64);
        float[] values = new float[cols];
        BlockFormat format = BlockFormats.require(type);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                values[c] = (float) random.nextGaussian() * 0.05f;
            }
            long at = r * rowBytes;
            switch (type) {
                case F32 -> MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, at, cols);
                case F16 -> {
                    for (int c = 0; c < cols; c++) {
                        data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * c, Float.floatToFloat16(values[c]));
                    }
                }
                case BF16 -> {
                    for (int c = 0; c < cols; c++) {
                        data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * c,
                                (short) (Float.floatToRawIntBits(values[c]) >>> 16));
                    }
                }
                default -> format.quantize(values, 0, data, at, cols);
            }
        }
        return Tensor.of("random." + type, type, data, rows, cols);
    }

    static float[] randomActivations(int n, long seed) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /** The relative error of {@code actual} against {@code expected} on one random product. */
    static double compare(Backend expected, Backend actual, GgmlType type, int rows, int cols, int batch) {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = randomWeights(type, rows, cols, arena, 7 + type.id());
            float[] x = randomActivations(batch * cols, 11 + batch);
            float[] a = new float[batch * rows];
            float[] b = new float[batch * rows];
            expected.matmul(w, x, a, batch);
            actual.matmul(w, x, b, batch);
            return relativeError(a, b);
        }
    }
}
