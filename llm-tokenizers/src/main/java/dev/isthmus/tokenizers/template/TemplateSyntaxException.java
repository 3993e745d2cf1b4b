package dev.isthmus.tokenizers.template;

/** A chat template is malformed; {@link #line()} and {@link #column()} point at the offending token. */
public final class TemplateSyntaxException extends TemplateException {

    private static final long serialVersionUID = 1L;

    TemplateSyntaxException(String message, int line, int column) {
        super(message, line, column, null);
    }

    @Override
    TemplateException at(int line, int column) {
        return this;
    }
}
