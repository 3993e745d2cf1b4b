package dev.isthmus.quant;

import dev.isthmus.core.tensor.IntLanes;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's scale searches for eight consecutive sub-blocks at once, sub-block j in 32-bit lane j:
 * {@link KQuantMath#makeQkx2Quants} (Q2_K, Q4_K, Q5_K), {@link KQuantMath#makeQxQuants} (Q6_K),
 * {@link KQuantMath#makeQ3Quants} (Q3_K) and the IQ4 search ({@link Iq4Encoder#blockScale}); and two helpers that
 * take eight consecutive elements at once, the IQ4 grid's nearest level and an asymmetric block's final levels.
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
    /** The IQ4 grid ({@link KQuantMath#IQ4NL_VALUES}) as floats. */
    private static final float[] GRID = new float[16];

    static {
        for (int k = 0; k < 16; k++) {
            GRID[k] = KQuantMath.IQ4NL_VALUES[k];
        }
    }

    private final int n;
    /** Element i of lane j's sub-block at [8i + j]: the values, then the weights. */
    private final float[] xT;
    private final float[] wT;
    /** The levels of each lane's best fit, and of the step being tried, laid out as {@link #xT}. */
    private final int[] best;
    private final int[] trial;
    /** Eight-lane state between the steps of a search, at the offsets below. */
    private final float[] state = new float[16 * LANES];
    private static final int MIN = 0;
    private static final int MAX = LANES;
    private static final int SUM_W = 2 * LANES;
    private static final int SUM_X = 3 * LANES;
    private static final int SCALE = 4 * LANES;
    private static final int ERROR = 5 * LANES;
    private static final int AMAX = 6 * LANES;
    private static final int BEST_FIT = 7 * LANES;
    /**
     * The grid of each lane's best fit so far, iscale and the offset subtracted before scaling: its levels are
     * computed again from these at the end rather than copied at every better step.
     */
    private static final int BEST_ISCALE = 8 * LANES;
    private static final int BEST_OFFSET = 9 * LANES;
    /** The symmetric searches' sums Σw·x·l and Σw·l² (w = x²): Q6_K's per candidate, Q3_K's running. */
    private static final int SUM_LX = 10 * LANES;
    private static final int SUM_L2 = 11 * LANES;
    /** A step's grid, and a makeQkx2Quants step's sums between its two halves. */
    private static final int TRIAL_ISCALE = 12 * LANES;
    private static final int TRIAL_SUM_L = 13 * LANES;
    private static final int TRIAL_SUM_L2 = 14 * LANES;
    private static final int TRIAL_SUM_XL = 15 * LANES;

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
                float[] w = Arrays.copyOfRange(weights, wo + n * j, wo + n * j + n);
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
        bestLevels(0, nmax);
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
            FloatVector diff = scale.mul(l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f)).add(min).sub(xi);
            diff = diff.abs().blend(diff.mul(diff), squares);
            error = error.add(FloatVector.fromArray(F, wT, LANES * i).mul(diff));
        }
        scale.intoArray(state, SCALE);
        error.intoArray(state, ERROR);
        iscale.intoArray(state, BEST_ISCALE);
        min.intoArray(state, BEST_OFFSET);
    }

    /**
     * One step of the search: the grid with {@code steps} (rmin + rdelta·is + nmax) intervals over [min, max] —
     * against the current minimum, which an earlier step's better fit may have moved — its least-squares scale
     * and minimum, kept in the lanes where its error is lower. In two methods: as one, it was past C2's
     * budget, which left one of its blends to the Vector API's unoptimized Java code.
     */
    private void refine(int nmax, float steps, boolean useMad) {
        trialSums(nmax, steps);
        trialFit(useMad);
    }

    /** The step's grid (its iscale kept in the state) and its sums Σw·l, Σw·l², Σw·l·x. */
    private void trialSums(int nmax, float steps) {
        FloatVector min = FloatVector.fromArray(F, state, MIN);
        FloatVector iscale = FloatVector.broadcast(F, steps).div(FloatVector.fromArray(F, state, MAX).sub(min));
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
        iscale.intoArray(state, TRIAL_ISCALE);
        sumL.intoArray(state, TRIAL_SUM_L);
        sumL2.intoArray(state, TRIAL_SUM_L2);
        sumXL.intoArray(state, TRIAL_SUM_XL);
    }

    /** The step's least-squares scale and minimum, its error, and where it fits better, the step kept. */
    private void trialFit(boolean useMad) {
        FloatVector sumL = FloatVector.fromArray(F, state, TRIAL_SUM_L);
        FloatVector sumL2 = FloatVector.fromArray(F, state, TRIAL_SUM_L2);
        FloatVector sumXL = FloatVector.fromArray(F, state, TRIAL_SUM_XL);
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
        FloatVector min = FloatVector.fromArray(F, state, MIN);
        FloatVector bestError = FloatVector.fromArray(F, state, ERROR);
        VectorMask<Float> better = det.compare(VectorOperators.GT, 0f).and(error.compare(VectorOperators.LT, bestError))
                .andNot(FloatVector.fromArray(F, state, MAX).compare(VectorOperators.EQ, min));
        FloatVector.fromArray(F, state, BEST_ISCALE).blend(FloatVector.fromArray(F, state, TRIAL_ISCALE), better)
                .intoArray(state, BEST_ISCALE);
        FloatVector.fromArray(F, state, BEST_OFFSET).blend(min, better).intoArray(state, BEST_OFFSET);
        bestError.blend(error, better).intoArray(state, ERROR);
        FloatVector.fromArray(F, state, SCALE).blend(thisScale, better).intoArray(state, SCALE);
        min.blend(thisMin, better).intoArray(state, MIN);
    }

    /**
     * Each lane's levels on the grid of its best fit: nearestInt(iscale·(x − offset)) clamped to [lowest, highest],
     * the very operations that step computed them with.
     */
    private void bestLevels(int lowest, int highest) {
        FloatVector iscale = FloatVector.fromArray(F, state, BEST_ISCALE);
        FloatVector offset = FloatVector.fromArray(F, state, BEST_OFFSET);
        for (int i = 0; i < n; i++) {
            iscale.mul(FloatVector.fromArray(F, xT, LANES * i).sub(offset)).add(12582912f).reinterpretAsInts()
                    .and(0x007FFFFF).sub(0x00400000).min(highest).max(lowest).intoArray(best, LANES * i);
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
        bestLevels(-nmax, nmax - 1);
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
     * The symmetric grid {@code numerator / max}: its x²-weighted least-squares scale, taken as the first fit or
     * kept in the lanes where it fits better. Lanes with max 0 compute junk, replaced at the end.
     */
    private void qxFit(int nmax, float numerator, boolean first) {
        symmetricSums(nmax, numerator, null);
        FloatVector iscale = FloatVector.fromArray(F, state, TRIAL_ISCALE);
        FloatVector sumLX = FloatVector.fromArray(F, state, SUM_LX);
        FloatVector sumL2 = FloatVector.fromArray(F, state, SUM_L2);
        if (first) {
            FloatVector scale = sumLX.div(sumL2).blend(0f, sumL2.compare(VectorOperators.EQ, 0f));
            scale.intoArray(state, SCALE);
            scale.mul(sumLX).intoArray(state, BEST_FIT);
            iscale.intoArray(state, BEST_ISCALE);
            FloatVector.zero(F).intoArray(state, BEST_OFFSET);
            return;
        }
        FloatVector bestFit = FloatVector.fromArray(F, state, BEST_FIT);
        VectorMask<Float> better = sumL2.compare(VectorOperators.GT, 0f)
                .and(sumLX.mul(sumLX).compare(VectorOperators.GT, bestFit.mul(sumL2)));
        FloatVector.fromArray(F, state, BEST_ISCALE).blend(iscale, better).intoArray(state, BEST_ISCALE);
        FloatVector scale = FloatVector.fromArray(F, state, SCALE).blend(sumLX.div(sumL2), better);
        scale.intoArray(state, SCALE);
        bestFit.blend(scale.mul(sumLX), better).intoArray(state, BEST_FIT);
    }

    /**
     * The symmetric grid iscale = {@code numerator / max}: levels nearestInt(iscale·x) in [-nmax, nmax), into
     * {@code levels} unless it is null, and the sums Σw·x·l and Σw·l² with w = x² (the state's TRIAL_ISCALE,
     * SUM_LX and SUM_L2).
     */
    private void symmetricSums(int nmax, float numerator, int[] levels) {
        FloatVector iscale = FloatVector.broadcast(F, numerator).div(FloatVector.fromArray(F, state, MAX));
        FloatVector sumLX = FloatVector.zero(F);
        FloatVector sumL2 = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            // nearestInt (1.5·2^23 added, mantissa read), clamped; then the level back to float exactly.
            IntVector l = iscale.mul(xi).add(12582912f).reinterpretAsInts().and(0x007FFFFF).sub(0x00400000)
                    .min(nmax - 1).max(-nmax);
            if (levels != null) {
                l.intoArray(levels, LANES * i);
            }
            FloatVector lf = l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            FloatVector w = xi.mul(xi);
            sumLX = sumLX.add(w.mul(xi).mul(lf));
            sumL2 = sumL2.add(w.mul(lf).mul(lf));
        }
        iscale.intoArray(state, TRIAL_ISCALE);
        sumLX.intoArray(state, SUM_LX);
        sumL2.intoArray(state, SUM_L2);
    }

    /**
     * {@link KQuantMath#makeQ3Quants} with {@code doRmse} (Q3_K's search) for the eight sub-blocks of {@code n}
     * elements from {@code src[x]}: sub-block j's levels (offset by nmax) go to {@code levels[lo + n·j ...]}, its
     * scale to {@code scales[so + j]}.
     *
     * <p>The scalar search stops a sub-block's coordinate descent after a pass that changed nothing; here every
     * lane runs until no lane changes. That gives the same levels: a pass that changes nothing leaves the state
     * as it found it, so the next pass, starting from the same state, changes nothing either.
     */
    void makeQ3Quants(int nmax, float[] src, int x, byte[] levels, int lo, float[] scales, int so) {
        if (!IntLanes.AVAILABLE) {
            for (int j = 0; j < LANES; j++) {
                scales[so + j] = KQuantMath.makeQ3Quants(n, nmax, src, x + n * j, levels, lo + n * j, true);
            }
            return;
        }
        transpose(src, x, xT);
        largestMagnitude();
        symmetricSums(nmax, -nmax, best);
        for (int pass = 0; pass < 5 && q3Pass(nmax); pass++) {
            // q3Pass returns whether any lane changed a level.
        }
        VectorMask<Float> zero = FloatVector.fromArray(F, state, AMAX)
                .compare(VectorOperators.LT, KQuantMath.GROUP_MAX_EPS);
        FloatVector sumLX = FloatVector.fromArray(F, state, SUM_LX);
        FloatVector sumL2 = FloatVector.fromArray(F, state, SUM_L2);
        sumLX.div(sumL2).blend(0f, sumL2.compare(VectorOperators.GT, 0f).not()).blend(0f, zero).intoArray(scales, so);
        writeLevels(levels, lo, zero.toLong(), nmax);
    }

    /**
     * One pass of the coordinate descent, element after element: each level moved to where the rest of the fit
     * puts it, kept where that raises (Σw·x·l)² / Σw·l². Returns whether any lane changed a level.
     */
    private boolean q3Pass(int nmax) {
        FloatVector sumLX = FloatVector.fromArray(F, state, SUM_LX);
        FloatVector sumL2 = FloatVector.fromArray(F, state, SUM_L2);
        long changed = 0;
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            FloatVector w = xi.mul(xi);
            IntVector l = IntVector.fromArray(I, best, LANES * i);
            FloatVector lf = l.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            FloatVector slx = sumLX.sub(w.mul(xi).mul(lf));
            FloatVector sl2 = sumL2.sub(w.mul(lf).mul(lf));
            IntVector moved = xi.mul(sl2).div(slx).add(12582912f).reinterpretAsInts().and(0x007FFFFF)
                    .sub(0x00400000).min(nmax - 1).max(-nmax);
            FloatVector mf = moved.add(0x4B40_0000).reinterpretAsFloats().sub(0x1.8p23f);
            slx = slx.add(w.mul(xi).mul(mf));
            sl2 = sl2.add(w.mul(mf).mul(mf));
            // The scalar test's order: slx before the move > 0, a different level, then the fit.
            VectorMask<Float> keep = sumLX.sub(w.mul(xi).mul(lf)).compare(VectorOperators.GT, 0f)
                    .and(mf.compare(VectorOperators.NE, lf))
                    .and(sl2.compare(VectorOperators.GT, 0f))
                    .and(slx.mul(slx).mul(sumL2).compare(VectorOperators.GT, sumLX.mul(sumLX).mul(sl2)));
            long lanes = keep.toLong();
            changed |= lanes;
            l.blend(moved, keep.cast(I)).intoArray(best, LANES * i);
            sumLX = sumLX.blend(slx, keep);
            sumL2 = sumL2.blend(sl2, keep);
        }
        sumLX.intoArray(state, SUM_LX);
        sumL2.intoArray(state, SUM_L2);
        return changed != 0;
    }

    /**
     * The scale search of ggml's {@code quantize_row_iq4_nl_impl} (no importance matrix, {@code ntry} > 0) for the
     * eight 32-element blocks from {@code src[x]}: block j's scale to {@code scales[so + j]}, 0 where its largest
     * magnitude is below ggml's threshold (its scalar twin: {@link Iq4Encoder#blockScale}).
     */
    void iq4Scales(float[] src, int x, float[] scales, int so, int ntry) {
        if (!IntLanes.AVAILABLE || n != 32 || ntry <= 0) {
            for (int j = 0; j < LANES; j++) {
                scales[so + j] = Iq4Encoder.blockScale(src, x + 32 * j, ntry, new byte[32]);
            }
            return;
        }
        transpose(src, x, xT);
        largestMagnitude();
        iq4Fit(0, true);
        for (int itry = -ntry; itry <= ntry; itry++) {
            iq4Fit(itry, false);
        }
        VectorMask<Float> zero = FloatVector.fromArray(F, state, AMAX)
                .compare(VectorOperators.LT, KQuantMath.GROUP_MAX_EPS);
        FloatVector.fromArray(F, state, SCALE).blend(0f, zero).intoArray(scales, so);
    }

    /**
     * One candidate of the IQ4 search: the first, d = -max / grid[0], or {@code id = (itry + grid[0]) / max};
     * each element's nearest grid value ({@link KQuantMath#bestIndexInt8}), the x²-weighted least-squares
     * scale, taken first or kept where it fits better.
     */
    private void iq4Fit(int itry, boolean first) {
        FloatVector max = FloatVector.fromArray(F, state, MAX);
        FloatVector id = first
                ? FloatVector.broadcast(F, 1f).div(max.neg().div(GRID[0]))
                : FloatVector.broadcast(F, (float) (itry + KQuantMath.IQ4NL_VALUES[0])).div(max);
        FloatVector sumQX = FloatVector.zero(F);
        FloatVector sumQ2 = FloatVector.zero(F);
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xT, LANES * i);
            FloatVector al = id.mul(xi);
            // The grid values around al: lo the largest at most al (grid[0] below it), hi the next one up.
            FloatVector lo = FloatVector.broadcast(F, GRID[0]);
            FloatVector hi = FloatVector.broadcast(F, GRID[1]);
            for (int k = 1; k < 15; k++) {
                VectorMask<Float> above = al.compare(VectorOperators.GE, GRID[k]);
                lo = lo.blend(GRID[k], above);
                hi = hi.blend(GRID[k + 1], above);
            }
            lo = lo.blend(GRID[15], al.compare(VectorOperators.GE, GRID[15]));
            // bestIndexInt8's tie-break; NaN, which its binary search takes to the top, likewise.
            FloatVector q = hi.blend(lo, al.sub(lo).compare(VectorOperators.LT, hi.sub(al)))
                    .blend(GRID[15], al.test(VectorOperators.IS_NAN));
            FloatVector wq = xi.mul(xi).mul(q);
            sumQX = sumQX.add(wq.mul(xi));
            sumQ2 = sumQ2.add(wq.mul(q));
        }
        if (first) {
            FloatVector d = sumQX.div(sumQ2).blend(0f, sumQ2.compare(VectorOperators.GT, 0f).not());
            d.intoArray(state, SCALE);
            d.mul(sumQX).intoArray(state, BEST_FIT);
            return;
        }
        FloatVector bestFit = FloatVector.fromArray(F, state, BEST_FIT);
        VectorMask<Float> better = sumQ2.compare(VectorOperators.GT, 0f)
                .and(sumQX.mul(sumQX).compare(VectorOperators.GT, bestFit.mul(sumQ2)));
        FloatVector d = FloatVector.fromArray(F, state, SCALE).blend(sumQX.div(sumQ2), better);
        d.intoArray(state, SCALE);
        bestFit.blend(d.mul(sumQX), better).intoArray(state, BEST_FIT);
    }

    /**
     * {@link KQuantMath#bestIndexInt8}{@code (IQ4NL_VALUES, scale × src[x + j])} into {@code levels[lo + j]} for
     * j below {@code count}: eight consecutive elements at a time, without the binary search's branches, which
     * mispredict on about every other element.
     */
    void iq4Levels(float[] src, int x, float scale, byte[] levels, int lo, int count) {
        int j = 0;
        for (; IntLanes.AVAILABLE && j + LANES <= count; j += LANES) {
            FloatVector al = FloatVector.fromArray(F, src, x + j).mul(scale);
            // lo the largest grid value at most al (grid[0] below it) and its index, hi the next one up.
            FloatVector lower = FloatVector.broadcast(F, GRID[0]);
            FloatVector upper = FloatVector.broadcast(F, GRID[1]);
            FloatVector index = FloatVector.zero(F);
            for (int k = 1; k < 15; k++) {
                VectorMask<Float> above = al.compare(VectorOperators.GE, GRID[k]);
                lower = lower.blend(GRID[k], above);
                upper = upper.blend(GRID[k + 1], above);
                index = index.blend((float) k, above);
            }
            VectorMask<Float> top = al.compare(VectorOperators.GE, GRID[15]);
            lower = lower.blend(GRID[15], top);
            index = index.blend(15f, top);
            // The tie-break; past the top (index 16) and NaN go to 15, as the binary search takes them.
            index = index.add(1f).blend(index, al.sub(lower).compare(VectorOperators.LT, upper.sub(al)))
                    .min(15f).blend(15f, al.test(VectorOperators.IS_NAN));
            ((IntVector) index.convert(VectorOperators.F2I, 0)).intoArray(trial, 0);
            for (int e = 0; e < LANES; e++) {
                levels[lo + j + e] = (byte) trial[e];
            }
        }
        for (; j < count; j++) {
            levels[lo + j] = (byte) KQuantMath.bestIndexInt8(KQuantMath.IQ4NL_VALUES, scale * src[x + j]);
        }
    }

    /**
     * clamp(nearestInt((src[x + i] + dm) / d), 0, nmax) into {@code levels[lo + i]} for i below {@code count}, eight
     * consecutive elements at a time: an asymmetric sub-block's final levels against its stored scale and minimum.
     */
    void offsetLevels(float[] src, int x, float dm, float d, int nmax, byte[] levels, int lo, int count) {
        int i = 0;
        for (; IntLanes.AVAILABLE && i + LANES <= count; i += LANES) {
            FloatVector.fromArray(F, src, x + i).add(dm).div(d).add(12582912f).reinterpretAsInts().and(0x007FFFFF)
                    .sub(0x00400000).min(nmax).max(0).intoArray(trial, 0);
            for (int e = 0; e < LANES; e++) {
                levels[lo + i + e] = (byte) trial[e];
            }
        }
        for (; i < count; i++) {
            levels[lo + i] = (byte) Math.max(0, Math.min(nmax, KQuantMath.nearestInt((src[x + i] + dm) / d)));
        }
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
