package dev.isthmus.tokenizers.template;

/** Rendering stopped because the template exceeded one of its {@link TemplateLimits}. */
public final class TemplateLimitException extends TemplateException {

    private static final long serialVersionUID = 1L;

    /** Which bound was hit. */
    public enum Limit { STEPS, OUTPUT_SIZE, RECURSION_DEPTH }

    private final Limit limit;

    TemplateLimitException(Limit limit, String message) {
        super(message);
        this.limit = limit;
    }

    private TemplateLimitException(TemplateLimitException original, int line, int column) {
        super(original.reason(), line, column, original);
        this.limit = original.limit;
    }

    public Limit limit() {
        return limit;
    }

    @Override
    TemplateException at(int line, int column) {
        return line() > 0 ? this : new TemplateLimitException(this, line, column);
    }
}
