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

    /**
     * Builds the table; {@code left[r] + right[r] -> result[r]} is the merge of rank r. The first rule wins on
     * duplicates, as in llama.cpp's {@code bpe_ranks} (GGUF).
     */
    static BpeMergeTable of(int[] left, int[] right, int[] result) {
        return of(left, right, result, false);
    }

    /**
     * As {@link #of(int[], int[], int[])}; with {@code lastWins} a repeated pair takes the rank of its last rule,
     * as Hugging Face's BPE does (its merge map is collected into a hash map, later entries replacing earlier).
     */
    static BpeMergeTable of(int[] left, int[] right, int[] result, boolean lastWins) {
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
            if (keys[slot] == EMPTY || lastWins) {
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

    private static final int SCAN_MERGE_LIMIT = 96;

    /**
     * Applies the merges to a word's symbols: the adjacent pair of lowest rank merges first, the leftmost on
     * ties, until no pair has a rule (Hugging Face's BPE order). Short words scan; long ones use a heap, so a
     * word of n symbols costs O(n log n). May reuse {@code ids} as the result.
     */
    int[] apply(int[] ids) {
        return ids.length <= SCAN_MERGE_LIMIT ? mergeByScan(ids) : mergeByHeap(ids);
    }

    /** Short words: keep the rank of every adjacent pair and scan for the smallest. */
    private int[] mergeByScan(int[] ids) {
        int n = ids.length;
        if (n < 2) {
            return ids;
        }
        int[] ranks = new int[n - 1];
        for (int i = 0; i < n - 1; i++) {
            ranks[i] = rank(ids[i], ids[i + 1]);
        }
        while (n > 1) {
            int best = NONE;
            int pos = -1;
            for (int i = 0; i < n - 1; i++) {
                if (ranks[i] < best) {
                    best = ranks[i];
                    pos = i;
                }
            }
            if (pos < 0) {
                break;
            }
            ids[pos] = result(best);
            System.arraycopy(ids, pos + 2, ids, pos + 1, n - pos - 2);
            System.arraycopy(ranks, pos + 1, ranks, pos, n - pos - 2);
            n--;
            if (pos > 0) {
                ranks[pos - 1] = rank(ids[pos - 1], ids[pos]);
            }
            if (pos < n - 1) {
                ranks[pos] = rank(ids[pos], ids[pos + 1]);
            }
        }
        return n == ids.length ? ids : java.util.Arrays.copyOf(ids, n);
    }

    /** Long words: a linked list of symbols and a min-heap of (rank, position); stale entries are skipped. */
    private int[] mergeByHeap(int[] ids) {
        int n = ids.length;
        int[] prev = new int[n];
        int[] next = new int[n];
        LongMinHeap heap = new LongMinHeap(n);
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1;
            if (i + 1 < n) {
                push(heap, rank(ids[i], ids[i + 1]), i);
            }
        }
        while (!heap.isEmpty()) {
            long entry = heap.pop();
            int rank = (int) (entry >>> 32);
            int pos = (int) entry;
            int right = next[pos];
            if (ids[pos] < 0 || right >= n || rank(ids[pos], ids[right]) != rank) {
                continue;
            }
            ids[pos] = result(rank);
            ids[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after < n) {
                prev[after] = pos;
                push(heap, rank(ids[pos], ids[after]), pos);
            }
            if (prev[pos] >= 0) {
                push(heap, rank(ids[prev[pos]], ids[pos]), prev[pos]);
            }
        }
        IntList out = new IntList(n);
        for (int i = 0; i < n; i = next[i]) {
            out.add(ids[i]);
        }
        return out.toArray();
    }

    private static void push(LongMinHeap heap, int rank, int pos) {
        if (rank != NONE) {
            heap.push(((long) rank << 32) | pos);
        }
    }
}
