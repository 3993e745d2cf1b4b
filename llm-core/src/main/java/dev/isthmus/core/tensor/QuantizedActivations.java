package dev.isthmus.core.tensor;

/**
 * Activations quantized once per matrix × vector product into the integer blocks that a weight format's
 * integer kernel multiplies with — llama.cpp's {@code vec_dot_type} (Q8_0 blocks for Q8_0 and Q4_0 weights,
 * Q8_K blocks for the k-quants). Levels are stored widened to 16 bits: the Vector API has no 8-bit
 * multiply-add, and 16-bit products of two 8-bit levels (at most 127 × 128) are exact, so two of them still
 * fit a 16-bit lane.
 *
 * <p>A buffer is reused from call to call; {@link BlockFormat#quantizeActivations} fills it and
 * {@link BlockFormat#dotQuantized} reads it. It is not thread-safe to fill, but any number of threads may
 * read a filled buffer.
 *
 * <pre>{@code
 * QuantizedActivations qx = new QuantizedActivations();
 * format.quantizeActivations(x, 0, cols, qx);
 * float y = format.dotQuantized(weights, rowOffset, qx, 0, cols);
 * }</pre>
 */
public final class QuantizedActivations {
    private short[] levels = new short[0];
    private float[] scales = new float[0];
    private int[] sums = new int[0];
    private int[] pairs = new int[0];
    private short[] pairVectors = new short[0];
    private short[] pairVectorSums = new short[0];
    private float[] values = new float[0];
    private int count;

    /** Makes room for {@code count} levels, {@code blocks} scales and {@code sumCount} sums. */
    public void reset(int count, int blocks, int sumCount) {
        if (levels.length < count) {
            levels = new short[count];
        }
        if (scales.length < blocks) {
            scales = new float[blocks];
        }
        if (sums.length < sumCount) {
            sums = new int[sumCount];
        }
        this.count = count;
    }

    /** The quantized levels, one per activation, in the order the filling format's kernel reads them. */
    public short[] levels() {
        return levels;
    }

    /**
     * One scale per block (activation = scale × level); after them, for Q8_1 blocks, the blocks' F16 sums
     * ({@link #quantizeQ8_1EvenOdd}).
     */
    public float[] scales() {
        return scales;
    }

    /** Per-(sub)block sums of the levels where the weight format needs them, in the order it reads them. */
    public int[] sums() {
        return sums;
    }

    /**
     * The levels two by two, element 2i in the low and 2i + 1 in the high 16 bits of {@code pairs[i]}, filled by
     * {@link #quantizeQ8_0Paired}: row-group kernels broadcast one pair to every row of their group.
     */
    public int[] pairs() {
        return pairs;
    }

    /**
     * The first {@code pairCount} {@link #pairs()} each repeated over a 256-bit vector (sixteen 16-bit lanes),
     * filled by {@link #broadcastPairs}: a row-group kernel loads them as operands, which costs one load where a
     * broadcast from a scalar costs three instructions, once per group of rows.
     */
    public short[] pairVectors() {
        return pairVectors;
    }

    /** Fills {@link #pairVectors()} from the first {@code pairCount} entries of {@link #pairs()}. */
    public void broadcastPairs(int pairCount) {
        if (pairVectors.length < 16 * pairCount) {
            pairVectors = new short[16 * pairCount];
        }
        for (int i = 0; i < pairCount; i++) {
            jdk.incubator.vector.IntVector.broadcast(IntLanes.I, pairs[i]).reinterpretAsShorts().intoArray(pairVectors, 16 * i);
        }
    }

    /**
     * Per block of 16 {@link #pairVectors()} (32 activations), their lane-wise sum: 16 lanes alternating the sum
     * of the block's even and of its odd levels, filled by {@link #sumPairVectors}. A row-group kernel whose
     * 16-bit lanes would overflow subtracts a multiple of it lane by lane to keep each lane's sum exact.
     */
    public short[] pairVectorSums() {
        return pairVectorSums;
    }

    /** Fills {@link #pairVectorSums()} from the first {@code pairCount} (a multiple of 16) {@link #pairs()}. */
    public void sumPairVectors(int pairCount) {
        int blocks = pairCount / 16;
        if (pairVectorSums.length < 16 * blocks) {
            pairVectorSums = new short[16 * blocks];
        }
        for (int b = 0; b < blocks; b++) {
            int even = 0;
            int odd = 0;
            for (int i = 16 * b; i < 16 * b + 16; i++) {
                even += (short) pairs[i];
                odd += pairs[i] >> 16;
            }
            for (int lane = 0; lane < 16; lane += 2) {
                pairVectorSums[16 * b + lane] = (short) even;
                pairVectorSums[16 * b + lane + 1] = (short) odd;
            }
        }
    }

    /**
     * The activations as floats, filled by {@link #roundToHalf} (for F16 weights, whose kernels multiply
     * floats: llama.cpp's {@code vec_dot_type} for F16 is F16).
     */
    public float[] values() {
        return values;
    }

    /**
     * Rounds {@code n} activations to F16 (as {@link F16Format#roundActivations}) and multiplies them by
     * {@code scale}, a power of two that keeps every half finite and exact (at most 2^112), into {@link #values()}.
     */
    public void roundToHalf(float[] src, int srcOffset, int n, float scale) {
        if (values.length < n) {
            values = new float[n];
        }
        for (int i = 0; i < n; i++) {
            values[i] = Half.f16ToFloat(Half.floatToF16(src[srcOffset + i])) * scale;
        }
        count = n;
    }

    /** How many activations the buffer holds now. */
    public int count() {
        return count;
    }

    /**
     * Checks that a {@link BlockFormat#dotQuantized} call of {@code format} reads whole blocks of these activations:
     * {@code count} whole weight blocks, starting at a block boundary, inside what was quantized.
     *
     * @throws IllegalArgumentException naming the range otherwise
     */
    public void requireWholeBlocks(BlockFormat format, int xOffset, int count) {
        format.checkBlocks(count);
        int block = format.blockSize();
        if (xOffset % block != 0 || xOffset < 0 || xOffset + count > this.count) {
            throw new IllegalArgumentException("activations [" + xOffset + ", " + (xOffset + count) + ") are not whole "
                    + format.type() + " blocks (" + block + " elements) of the " + this.count + " quantized");
        }
    }

    /**
     * Quantizes into 32-element Q8_0 blocks exactly as llama.cpp's AVX2 {@code quantize_row_q8_0} does
     * (scale rounded to F16, levels = round-half-even(x · 127 / amax)), so scale × level equals
     * {@link Q8_0Format#roundActivations}'s output; levels in element order.
     */
    public void quantizeQ8_0(float[] src, int srcOffset, int n) {
        quantizeQ8_0(src, srcOffset, n, false);
    }

    /**
     * As {@link #quantizeQ8_0}, but within each block the 16 even-numbered elements come first, then the
     * 16 odd ones ({@link #evenOddIndex}): kernels that view two weight bytes as one 16-bit lane multiply
     * its low and high bytes with them.
     */
    public void quantizeQ8_0EvenOdd(float[] src, int srcOffset, int n) {
        quantizeQ8_0(src, srcOffset, n, true);
    }

    /**
     * As {@link #quantizeQ8_0EvenOdd}, plus llama.cpp's Q8_1 block sums: {@code scales[blocks + b]} holds
     * s = d·Σ levels of block b rounded to F16, with the unrounded d = amax/127 ({@code quantize_row_q8_1}).
     */
    public void quantizeQ8_1EvenOdd(float[] src, int srcOffset, int n) {
        quantizeQ8_0(src, srcOffset, n, true, true);
    }

    /**
     * As {@link #quantizeQ8_0}, plus each block's level sum in {@code sums[block]} and the levels paired in
     * {@link #pairs()}.
     */
    public void quantizeQ8_0Paired(float[] src, int srcOffset, int n) {
        quantizeQ8_0(src, srcOffset, n, false);
        pairBlocks(n);
    }

    /**
     * As {@link #quantizeQ8_0Paired}, plus llama.cpp's Q8_1 block sums after the scales, as
     * {@link #quantizeQ8_1EvenOdd} stores them: for weight formats with a minimum (Q4_1, Q5_1) read in row groups.
     */
    public void quantizeQ8_1Paired(float[] src, int srcOffset, int n) {
        quantizeQ8_0(src, srcOffset, n, false, true);
        pairBlocks(n);
    }

    private void pairBlocks(int n) {
        int blocks = n / 32;
        if (sums.length < blocks) {
            sums = new int[blocks];
        }
        if (pairs.length < n / 2) {
            pairs = new int[n / 2];
        }
        for (int b = 0; b < blocks; b++) {
            int sum = 0;
            for (int j = b * 32; j < b * 32 + 32; j += 2) {
                sum += levels[j] + levels[j + 1];
                pairs[j / 2] = (levels[j] & 0xFFFF) | levels[j + 1] << 16;
            }
            sums[b] = sum;
        }
    }

    /**
     * Fills {@link #pairs()} from the {@link #count()} levels as they lie now: levels 2i and 2i + 1 into
     * {@code pairs[i]}. For row-group kernels that read another filler's arrangement two levels at a time:
     * after a k-quant's even/odd Q8_K fill, a pair holds elements (4m, 4m + 2) or (4m + 1, 4m + 3) of a block.
     *
     * <pre>{@code
     * format.quantizeActivations(x, 0, cols, qx);   // levels in the format's order
     * qx.pairLevels();                              // qx.pairs()[i] = levels[2i] | levels[2i + 1] << 16
     * }</pre>
     */
    public void pairLevels() {
        int n = count / 2;
        if (pairs.length < n) {
            pairs = new int[n];
        }
        for (int i = 0; i < n; i++) {
            pairs[i] = (levels[2 * i] & 0xFFFF) | levels[2 * i + 1] << 16;
        }
    }

    private void quantizeQ8_0(float[] src, int srcOffset, int n, boolean evenOdd) {
        quantizeQ8_0(src, srcOffset, n, evenOdd, false);
    }

    private void quantizeQ8_0(float[] src, int srcOffset, int n, boolean evenOdd, boolean blockSums) {
        if (n % 32 != 0) {
            throw new IllegalArgumentException("Q8_0 activations come in blocks of 32, got " + n);
        }
        int blocks = n / 32;
        reset(n, blockSums ? 2 * blocks : blocks, 0);
        for (int b = 0; b < n; b += 32) {
            float amax = 0f;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(src[srcOffset + b + j]));
            }
            scales[b / 32] = Half.f16ToFloat(Half.floatToF16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                short level = (short) Math.rint(src[srcOffset + b + j] * id);
                levels[evenOdd ? evenOddIndex(b + j) : b + j] = level;
                sum += level;
            }
            if (blockSums) {
                scales[blocks + b / 32] = Half.f16ToFloat(Half.floatToF16(amax / 127f * sum));
            }
        }
    }

    /** Where {@link #quantizeQ8_0EvenOdd} stores element {@code i}'s level. */
    public static int evenOddIndex(int i) {
        int j = i & 31;
        return (i & ~31) + (j >> 1) + ((j & 1) << 4);
    }
}
