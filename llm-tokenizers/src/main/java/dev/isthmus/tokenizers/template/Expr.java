package dev.isthmus.tokenizers.template;

import java.util.List;
import java.util.Map;

/** Expression syntax tree. Every node keeps its source offset so runtime errors can name a line and column. */
sealed interface Expr {

    int offset();

    record Literal(Value value, int offset) implements Expr {}

    record Name(String name, int offset) implements Expr {}

    record ListLiteral(List<Expr> items, boolean tuple, int offset) implements Expr {}

    record DictLiteral(List<Expr> keys, List<Expr> values, int offset) implements Expr {}

    /** {@code obj.name}: Jinja tries the attribute (method) first, then the item. */
    record Attribute(Expr object, String name, int offset) implements Expr {}

    /** {@code obj[key]}: Jinja tries the item first, then the attribute. */
    record Item(Expr object, Expr key, int offset) implements Expr {}

    /** {@code obj[start:stop:step]}; absent parts are null. */
    record Slice(Expr object, Expr start, Expr stop, Expr step, int offset) implements Expr {}

    record Call(Expr callee, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {}

    /** {@code operand | name(args)}; a null operand stands for the body of a {@code {% filter %}} block. */
    record Filter(Expr operand, String name, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {}

    record Test(Expr operand, String name, List<Expr> args, boolean negated, int offset) implements Expr {}

    /** {@code not}, unary {@code -} and {@code +}. */
    record Unary(String operator, Expr operand, int offset) implements Expr {}

    /** Arithmetic, {@code ~}, {@code and}, {@code or}. */
    record Binary(String operator, Expr left, Expr right, int offset) implements Expr {}

    /** A comparison chain {@code a < b <= c}, with {@code in} and {@code not in} among the operators. */
    record Compare(Expr first, List<String> operators, List<Expr> operands, int offset) implements Expr {}

    /** {@code then if test else otherwise}; a missing else yields undefined. */
    record Conditional(Expr test, Expr then, Expr otherwise, int offset) implements Expr {}
}
