package dev.isthmus.quant;

import dev.isthmus.core.tensor.IntLanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's scale searches ({@link KQuantMath#makeQkx2Quants}, {@link KQuantMath#makeQxQuants}) for eight
 * consecutive sub-blocks at once, sub-block j in 32-bit lane j.
 *
 * <p>Why lanes across sub-blocks: the searches add up their sums one element after another, and the encoded
 * bytes must stay llama.cpp's, so the sums cannot be split across lanes. Each sub-block's search is
 * independent, though: with one sub-block per lane, every lane goes through exactly the scalar search's float
 * operations in the scalar order (IEEE, no fused multiply-add), and its branches become per-lane choices. The
 * scalar searches stay the reference twins ({@code KQuantLanesTest} holds each lane to them bit for bit), and
 * run here where 256-bit vectors are not native ({@link IntLanes#AVAILABLE}).
 *
 * <pre>{@code
 * KQuantLanes search = new KQuantLanes(32);
 * search.makeQkx2Quants(15, src, x, weights, 0, levels, 0, scales, mins, 0, -1f, 0.1f, 20, false);
 * }</pre>
 */
final class KQuantLanes {
    static final int LANES = 8;
    private static final VectorSpecies<Float> F = IntLanes.F;
    private static final VectorSpecies<Integer> I = IntLanes.I;

    private final int n;
    /** Element i of lane j's sub-block at [8i + j]: the values, then the weights. */
    private final float[] xT;
    private final float[] wT;
    /** The levels of each lane's best fit so far, and of the step being tried, laid out as {@link #xT}. */
    private final int[] best;
    private final int[] trial;
    /** Eight-lane state between the steps of a search, at the offsets below. */
    private final float[] state = new float[8 * LANES];
    private static final int MIN = 0;
    private static final int MAX = LANES;
    private static final int SUM_W = 2 * LANES;
    private static final int SUM_X = 3 * LANES;
    private static final int SCALE = 4 * LANES;
    private static final int ERROR = 5 * LANES;
    private static final int AMAX = 6 * LANES;
    private static final int BEST_FIT = 7 * LANES;

    /** A search over sub-blocks of {@code n} elements; not for concurrent use (it holds scratch arrays). */
    KQuantLanes(int n) {
        this.n = n;
        xT = new float[LANES * n];
        wT = new float[LANES * n];
        best = new int[LANES * n];
        trial = new int[LANES * n];
    }

    /**
     * {@link KQuantMath#makeQkx2Quants} for the eight sub-blocks of {@code n} elements from {@code src[x]}, with
     * their weights from {@code weights[wo]}: sub-block j's levels go to {@code levels[lo + n·j ...]}, its scale to
     * {@code scales[so + j]} and its negated minimum to {@code mins[so + j]}.
     *
     * <p>The search is split into small methods whose lane state passes through the arrays of this object: one
     * method doing it all exceeded C2's budget, which then left the Vector API's conversions and lane operations
     * uncompiled (the run was twice as slow as the scalar search).
     */
    void makeQkx2Quants(int nmax, float[] src, int x, float[] weights, int wo, byte[] levels, int lo,
                        float[] scales, float[] mins, int so, float rmin, float rdelta, int nstep, boolean useMad) {
        if (!IntLanes.AVAILABLE) {
            byte[] aux = new byte[n];
            for (int j = 0; j < LANES; j++) {
                float[] w = java.util.Arrays.copyOfRange(weights, wo + n * j, wo + n * j + n);
                scales[so + j] = KQuantMath.makeQkx2Quants(n, nmax, src, x + n * j, w, levels, lo + n * j, mins,
                        so + j, aux, rmin, rdelta, nstep, useMad);
            }
            return;
        }
        transpose(src, x, xT);
        transpose(weights, wo, wT);
        rangeAndSums();
        firstFit(nmax, useMad);
        for (int is = 0; nstep >= 1 && is <= nstep; is++) {
            refine(nmax, rmin + rdelta * is + nmax, useMad);
        }
        FloatVector min = FloatVector.fromArray(F, state, MIN);
        min.neg().intoArray(mins, so);
        // Where max == min the scalar search gives up: levels 0, scale 0 (and the minimum as found).
        VectorMask<Float> flat = FloatVector.fromArray(F, state, MAX).compare(VectorOperators.EQ, min);
        FloatVector.fromArray(F, state, SCALE).blend(0f, flat).intoArray(scales, so);
        writeLevels(levels, lo, flat.toLong(), 0);
    }

    /** Each lane's minimum (at most 0), maximum, Σw and Σw·x, in the scalar search's order. */
    private void rangeAndSums() {
        FloatVector x0 = FloatVector.fromArray(F, xT, 0);
        FloatVector w0 = FloatVector.fromArray(F, wT, 0);
        FloatVector min = x0;
        FloatVector max = x0;
        FloatVector sumW = w0;
        FloatVector sumX = w0.mul(x0);
        for (int i = 1; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            FloatVector w = FloatVector.fromArray(F, wT, LANES * i);
            // Comparisons and blends, not MIN/MAX: those order -0 below +0 where the scalar `if (x < min)` does not.
            min = min.blend(xi, xi.compare(VectorOperators.LT, min));
            max = max.blend(xi, xi.compare(VectorOperators.GT, max));
            sumW = sumW.add(w);
            sumX = sumX.add(w.mul(xi));
        }
        min.blend(0f, min.compare(VectorOperators.GT, 0f)).intoArray(state, MIN);
        max.intoArray(state, MAX);
        sumW.intoArray(state, SUM_W);
        sumX.intoArray(state, SUM_X);
    }

    /**
     * The levels of the grid spanning [min, max] and their error. Flat lanes (max == min) divide by zero here
     * and in {@link #refine}; their results are replaced at the end.
     */
    private void firstFit(int nmax, boolean useMad) {
        FloatVector min = FloatVector.fromArray(F, state, MIN);
        FloatVector iscale = FloatVector.broadcast(F, (float) nmax).div(FloatVector.fromArray(F, state, MAX).sub(min));
        FloatVector scale = FloatVector.broadcast(F, 1f).div(iscale);
        // Both error terms are computed and one kept: a vector chosen by a branch would be boxed by C2.
        VectorMask<Float> squares = F.maskAll(!useMad);
        FloatVector error = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            // nearestInt (1.5·2^23 added, mantissa read), clamped; then the level back to float exactly.
            IntVector l = iscale.mul(xi.sub(min)).add(12582912f).reinterpretAsInts().and(0x007FFFFF)
                    .sub(0x00400000).min(nmax).max(0);
            l.intoArray(best, LANES * i);
            FloatVector diff = scale.mul(l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f)).add(min).sub(xi);
            diff = diff.abs().blend(diff.mul(diff), squares);
            error = error.add(FloatVector.fromArray(F, wT, LANES * i).mul(diff));
        }
        scale.intoArray(state, SCALE);
        error.intoArray(state, ERROR);
    }

    /**
     * One step of the search: the grid with {@code steps} (rmin + rdelta·is + nmax) intervals over [min, max] —
     * against the current minimum, which an earlier step's better fit may have moved — its least-squares scale
     * and minimum, kept in the lanes where its error is lower.
     */
    private void refine(int nmax, float steps, boolean useMad) {
        FloatVector min = FloatVector.fromArray(F, state, MIN);
        FloatVector max = FloatVector.fromArray(F, state, MAX);
        FloatVector iscale = FloatVector.broadcast(F, steps).div(max.sub(min));
        FloatVector sumL = FloatVector.zero(F);
        FloatVector sumL2 = FloatVector.zero(F);
        FloatVector sumXL = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            IntVector l = iscale.mul(xi.sub(min)).add(12582912f).reinterpretAsInts().and(0x007FFFFF)
                    .sub(0x00400000).min(nmax).max(0);
            l.intoArray(trial, LANES * i);
            FloatVector lf = l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            FloatVector wl = FloatVector.fromArray(F, wT, LANES * i).mul(lf);
            sumL = sumL.add(wl);
            sumL2 = sumL2.add(wl.mul(lf));
            sumXL = sumXL.add(wl.mul(xi));
        }
        FloatVector sumW = FloatVector.fromArray(F, state, SUM_W);
        FloatVector sumX = FloatVector.fromArray(F, state, SUM_X);
        FloatVector det = sumW.mul(sumL2).sub(sumL.mul(sumL));
        FloatVector thisScale = sumW.mul(sumXL).sub(sumX.mul(sumL)).div(det);
        FloatVector thisMin = sumL2.mul(sumX).sub(sumL.mul(sumXL)).div(det);
        VectorMask<Float> positive = thisMin.compare(VectorOperators.GT, 0f);
        thisMin = thisMin.blend(0f, positive);
        thisScale = thisScale.blend(sumXL.div(sumL2), positive);
        VectorMask<Float> squares = F.maskAll(!useMad);
        FloatVector error = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector lf = IntVector.fromArray(I, trial, LANES * i).add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            FloatVector diff = thisScale.mul(lf).add(thisMin).sub(FloatVector.fromArray(F, xT, LANES * i));
            diff = diff.abs().blend(diff.mul(diff), squares);
            error = error.add(FloatVector.fromArray(F, wT, LANES * i).mul(diff));
        }
        FloatVector bestError = FloatVector.fromArray(F, state, ERROR);
        VectorMask<Float> better = det.compare(VectorOperators.GT, 0f).and(error.compare(VectorOperators.LT, bestError))
                .andNot(max.compare(VectorOperators.EQ, min));
        keepBetter(better.toLong());
        bestError.blend(error, better).intoArray(state, ERROR);
        FloatVector.fromArray(F, state, SCALE).blend(thisScale, better).intoArray(state, SCALE);
        min.blend(thisMin, better).intoArray(state, MIN);
    }

    /** The trial's levels become the best in the lanes whose bits are set in {@code lanes}. */
    private void keepBetter(long lanes) {
        // Lane by lane rather than as a masked blend: with a blend under VectorMask.fromLong(toLong()) of the
        // step's comparison mask, KQuantLanesTest caught levels from another step than the kept scale's once C2
        // had compiled the search (intermittently; a reduced case did not reproduce it).
        for (long rest = lanes; rest != 0; rest &= rest - 1) {
            int j = Long.numberOfTrailingZeros(rest);
            for (int i = 0; i < n; i++) {
                best[LANES * i + j] = trial[LANES * i + j];
            }
        }
    }

    /**
     * {@link KQuantMath#makeQxQuants} with {@code rmseType} 1 and no importance weights (Q6_K's search) for the
     * eight sub-blocks of {@code n} elements from {@code src[x]}: sub-block j's levels go to
     * {@code levels[lo + n·j ...]} (offset by nmax, as the scalar search stores them), its scale to
     * {@code scales[so + j]}.
     */
    void makeQxQuants(int nmax, float[] src, int x, byte[] levels, int lo, float[] scales, int so) {
        if (!IntLanes.AVAILABLE) {
            for (int j = 0; j < LANES; j++) {
                scales[so + j] = KQuantMath.makeQxQuants(n, nmax, src, x + n * j, levels, lo + n * j, 1, null, 0);
            }
            return;
        }
        transpose(src, x, xT);
        largestMagnitude();
        qxFit(nmax, -nmax, true);
        for (int is = -9; is <= 9; is++) {
            if (is != 0) {
                qxFit(nmax, -(nmax + 0.1f * is), false);
            }
        }
        // Lanes whose largest magnitude is below ggml's threshold encode as zeros.
        VectorMask<Float> zero = FloatVector.fromArray(F, state, AMAX)
                .compare(VectorOperators.LT, KQuantMath.GROUP_MAX_EPS);
        FloatVector.fromArray(F, state, SCALE).blend(0f, zero).intoArray(scales, so);
        writeLevels(levels, lo, zero.toLong(), nmax);
    }

    /** Each lane's largest magnitude and the value that has it (the first such, as the scalar search takes). */
    private void largestMagnitude() {
        FloatVector max = FloatVector.zero(F);
        FloatVector amax = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            FloatVector ax = xi.abs();
            VectorMask<Float> larger = ax.compare(VectorOperators.GT, amax);
            amax = amax.blend(ax, larger);
            max = max.blend(xi, larger);
        }
        max.intoArray(state, MAX);
        amax.intoArray(state, AMAX);
    }

    /**
     * The symmetric grid {@code numerator / max}: its levels and x²-weighted least-squares scale, taken as the
     * first fit or kept in the lanes where it fits better. Lanes with max 0 compute junk, replaced at the end.
     */
    private void qxFit(int nmax, float numerator, boolean first) {
        FloatVector iscale = FloatVector.broadcast(F, numerator).div(FloatVector.fromArray(F, state, MAX));
        int[] levels = first ? best : trial;
        FloatVector sumLX = FloatVector.zero(F);
        FloatVector sumL2 = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            // nearestInt (1.5·2^23 added, mantissa read), clamped; then the level back to float exactly.
            IntVector l = iscale.mul(xi).add(12582912f).reinterpretAsInts().and(0x007FFFFF).sub(0x00400000)
                    .min(nmax - 1).max(-nmax);
            l.intoArray(levels, LANES * i);
            FloatVector lf = l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            FloatVector w = xi.mul(xi);
            sumLX = sumLX.add(w.mul(xi).mul(lf));
            sumL2 = sumL2.add(w.mul(lf).mul(lf));
        }
        if (first) {
            FloatVector scale = sumLX.div(sumL2).blend(0f, sumL2.compare(VectorOperators.EQ, 0f));
            scale.intoArray(state, SCALE);
            scale.mul(sumLX).intoArray(state, BEST_FIT);
            return;
        }
        FloatVector bestFit = FloatVector.fromArray(F, state, BEST_FIT);
        VectorMask<Float> better = sumL2.compare(VectorOperators.GT, 0f)
                .and(sumLX.mul(sumLX).compare(VectorOperators.GT, bestFit.mul(sumL2)));
        keepBetter(better.toLong());
        FloatVector scale = FloatVector.fromArray(F, state, SCALE).blend(sumLX.div(sumL2), better);
        scale.intoArray(state, SCALE);
        bestFit.blend(scale.mul(sumLX), better).intoArray(state, BEST_FIT);
    }

    /** Lane j's levels (plus {@code offset}) to {@code levels[lo + n·j ...]}, zeros for the lanes in {@code empty}. */
    private void writeLevels(byte[] levels, int lo, long empty, int offset) {
        for (int j = 0; j < LANES; j++) {
            boolean none = (empty >>> j & 1) != 0;
            for (int i = 0; i < n; i++) {
                levels[lo + n * j + i] = none ? 0 : (byte) (best[LANES * i + j] + offset);
            }
        }
    }

    /** Eight sub-blocks of {@code n} from {@code src[from]} into lanes: element i of sub-block j to [8i + j]. */
    private void transpose(float[] src, int from, float[] dst) {
        for (int j = 0; j < LANES; j++) {
            for (int i = 0; i < n; i++) {
                dst[LANES * i + j] = src[from + n * j + i];
            }
        }
    }
}
