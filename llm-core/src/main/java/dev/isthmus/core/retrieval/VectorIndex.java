package dev.isthmus.core.retrieval;

import dev.isthmus.core.encoder.Encoder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * An in-memory semantic index: passages embedded by an {@link Encoder}, searched by cosine similarity.
 * Embeddings are L2-normalised, so cosine is a dot product. Not thread-safe while adding.
 *
 * <pre>{@code
 * VectorIndex index = new VectorIndex(encoder);
 * index.addAll(new TextChunker(800).chunk("README.md", readme));
 * List<ScoredPassage> top = index.search("How do I quantize a model?", 3);
 * }</pre>
 */
public final class VectorIndex {
    private static final int BATCH = 16;

    private final Encoder encoder;
    private final List<Passage> passages = new ArrayList<>();
    private final List<float[]> vectors = new ArrayList<>();

    public VectorIndex(Encoder encoder) {
        this.encoder = encoder;
    }

    /** Embeds and adds passages (in batches). */
    public void addAll(List<Passage> more) {
        for (int i = 0; i < more.size(); i += BATCH) {
            List<Passage> batch = more.subList(i, Math.min(more.size(), i + BATCH));
            List<float[]> embedded = encoder.embed(batch.stream().map(Passage::text).toList());
            for (int j = 0; j < batch.size(); j++) {
                passages.add(batch.get(j));
                vectors.add(normalised(embedded.get(j)));
            }
        }
    }

    public int size() {
        return passages.size();
    }

    /** The {@code k} passages most similar to {@code query}, best first. */
    public List<ScoredPassage> search(String query, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be ≥ 1, got " + k);
        }
        float[] q = normalised(encoder.embed(query));
        PriorityQueue<ScoredPassage> best = new PriorityQueue<>(Comparator.comparingDouble(ScoredPassage::score));
        for (int i = 0; i < passages.size(); i++) {
            double score = dot(q, vectors.get(i));
            if (best.size() < k) {
                best.add(new ScoredPassage(passages.get(i), score));
            } else if (score > best.peek().score()) {
                best.poll();
                best.add(new ScoredPassage(passages.get(i), score));
            }
        }
        List<ScoredPassage> out = new ArrayList<>(best);
        out.sort(Collections.reverseOrder(Comparator.comparingDouble(ScoredPassage::score)));
        return out;
    }

    private static float[] normalised(float[] v) {
        double n = 0;
        for (float f : v) {
            n += (double) f * f;
        }
        if (n == 0) {
            return v.clone();
        }
        float inv = (float) (1 / Math.sqrt(n));
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] * inv;
        }
        return out;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
