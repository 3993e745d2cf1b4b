package dev.isthmus.tokenizers;

/**
 * Merge rules as an open-addressing hash from a pair of token ids to its rank (lower merges first), plus
 * the id each rank produces. Primitive arrays keep look-ups in the BPE inner loop free of boxing.
 */
final class BpeMergeTable {
    static final int NONE = Integer.MAX_VALUE;
    private static final long EMPTY = -1L;

    private final long[] keys;
    private final int[] ranks;
    private final int[] results;
    private final int mask;

    private BpeMergeTable(long[] keys, int[] ranks, int[] results) {
        this.keys = keys;
        this.ranks = ranks;
        this.results = results;
        this.mask = keys.length - 1;
    }

    /** Builds the table; {@code left[r] + right[r] -> result[r]} is the merge of rank r. First rule wins on duplicates. */
    static BpeMergeTable of(int[] left, int[] right, int[] result) {
        int capacity = Integer.highestOneBit(Math.max(4, left.length * 2)) << 1;
        long[] keys = new long[capacity];
        java.util.Arrays.fill(keys, EMPTY);
        int[] ranks = new int[capacity];
        int mask = capacity - 1;
        for (int r = 0; r < left.length; r++) {
            long key = key(left[r], right[r]);
            int slot = slot(key, mask);
            while (keys[slot] != EMPTY && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            if (keys[slot] == EMPTY) {
                keys[slot] = key;
                ranks[slot] = r;
            }
        }
        return new BpeMergeTable(keys, ranks, result.clone());
    }

    /** Rank of merging {@code a} then {@code b}, or {@link #NONE}. */
    int rank(int a, int b) {
        long key = key(a, b);
        int slot = slot(key, mask);
        while (true) {
            long k = keys[slot];
            if (k == key) {
                return ranks[slot];
            }
            if (k == EMPTY) {
                return NONE;
            }
            slot = (slot + 1) & mask;
        }
    }

    int result(int rank) {
        return results[rank];
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
