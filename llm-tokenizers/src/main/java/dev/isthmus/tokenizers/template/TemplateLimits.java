package dev.isthmus.tokenizers.template;

/**
 * Bounds on the work one render may do. Templates come from model files and are untrusted, so a render
 * must end quickly and in bounded memory whatever the template says.
 *
 * @param maxSteps       statements, expressions and loop iterations evaluated, in total
 * @param maxOutputChars characters written (including macro and block-set buffers), and the longest string
 *                       an expression may build
 * @param maxDepth       nesting of macro calls and of template syntax
 */
public record TemplateLimits(long maxSteps, int maxOutputChars, int maxDepth) {

    /** 10^7 steps, 10 M characters, depth 100. */
    public static final TemplateLimits DEFAULTS = new TemplateLimits(10_000_000L, 10_000_000, 100);

    public TemplateLimits {
        if (maxSteps <= 0 || maxOutputChars <= 0 || maxDepth <= 0) {
            throw new IllegalArgumentException("limits must be positive: " + maxSteps + ", " + maxOutputChars
                    + ", " + maxDepth);
        }
    }
}
