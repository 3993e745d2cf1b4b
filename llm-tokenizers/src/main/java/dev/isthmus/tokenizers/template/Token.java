package dev.isthmus.tokenizers.template;

/** One lexical token; {@code offset} indexes the newline-normalised source, for error positions. */
record Token(Kind kind, String text, int offset) {

    enum Kind { TEXT, VARIABLE_BEGIN, VARIABLE_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INTEGER, FLOAT, OPERATOR, EOF }

    boolean is(Kind kind, String text) {
        return this.kind == kind && this.text.equals(text);
    }

    boolean isOperator(String operator) {
        return is(Kind.OPERATOR, operator);
    }

    boolean isName(String name) {
        return is(Kind.NAME, name);
    }
}
