package dev.isthmus.tokenizers.template;

import dev.isthmus.tokenizers.template.TemplateLimitException.Limit;

/** Counts the work of one render against its {@link TemplateLimits}; every render gets a fresh budget. */
final class Budget {

    private final TemplateLimits limits;
    private long steps;
    private long outputChars;
    private int depth;

    Budget(TemplateLimits limits) {
        this.limits = limits;
    }

    void step() {
        if (++steps > limits.maxSteps()) {
            throw stepsExceeded();
        }
    }

    /** Charges {@code n} steps at once, for work done in bulk (copying, sorting, materialising ranges). */
    void charge(long n) {
        if (n >= limits.maxSteps()) {
            throw stepsExceeded();
        }
        steps += Math.max(0, n);
        if (steps > limits.maxSteps()) {
            throw stepsExceeded();
        }
    }

    private TemplateLimitException stepsExceeded() {
        return new TemplateLimitException(Limit.STEPS, "template exceeded its step budget of " + limits.maxSteps()
                + " (TemplateLimits.maxSteps)");
    }

    /** Records {@code n} characters written to any output buffer. */
    void output(long n) {
        outputChars += n;
        if (outputChars > limits.maxOutputChars()) {
            throw new TemplateLimitException(Limit.OUTPUT_SIZE, "template output exceeded "
                    + limits.maxOutputChars() + " characters (TemplateLimits.maxOutputChars)");
        }
    }

    /** Refuses to build a string longer than the output limit, before building it. */
    void checkString(long length) {
        if (length > limits.maxOutputChars()) {
            throw new TemplateLimitException(Limit.OUTPUT_SIZE, "template built a string of " + length
                    + " characters, over the limit of " + limits.maxOutputChars()
                    + " (TemplateLimits.maxOutputChars)");
        }
        charge(length / 64);
    }

    void enter() {
        if (++depth > limits.maxDepth()) {
            throw new TemplateLimitException(Limit.RECURSION_DEPTH, "template recursion deeper than "
                    + limits.maxDepth() + " calls (TemplateLimits.maxDepth)");
        }
    }

    void exit() {
        depth--;
    }
}
