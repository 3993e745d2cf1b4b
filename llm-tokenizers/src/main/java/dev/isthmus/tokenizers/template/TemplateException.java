package dev.isthmus.tokenizers.template;

/**
 * A chat template failed while rendering: {@code raise_exception(...)} was called, a value was used in a way
 * Jinja rejects (undefined attribute access, a type error), or a {@link TemplateLimits limit} was reached.
 * The message names the template line and column where that is known.
 */
public class TemplateException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int line;
    private final int column;

    public TemplateException(String message) {
        this(message, 0, 0, null);
    }

    TemplateException(String message, int line, int column, Throwable cause) {
        super(line > 0 ? message + " (line " + line + ", column " + column + ")" : message, cause);
        this.line = line;
        this.column = column;
    }

    /** The 1-based template line of the failure, or 0 when unknown. */
    public int line() {
        return line;
    }

    /** The 1-based column of the failure, or 0 when unknown. */
    public int column() {
        return column;
    }

    /** The message without the position suffix. */
    String reason() {
        String message = getMessage();
        int at = line > 0 ? message.lastIndexOf(" (line ") : -1;
        return at >= 0 ? message.substring(0, at) : message;
    }

    /** This failure placed at a template position, unless it already has one. */
    TemplateException at(int line, int column) {
        return this.line > 0 ? this : new TemplateException(reason(), line, column, this);
    }
}
