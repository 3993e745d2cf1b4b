package dev.isthmus.tokenizers.template;

import java.util.List;

/** Statement syntax tree of a template. */
sealed interface Node {

    int offset();

    record Text(String text, int offset) implements Node {}

    record Output(Expr expr, int offset) implements Node {}

    record If(List<Branch> branches, List<Node> otherwise, int offset) implements Node {}

    record Branch(Expr test, List<Node> body) {}

    /** {@code for targets in iterable [if filter] ... [else ...] endfor}. */
    record For(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> otherwise, int offset)
            implements Node {}

    /** {@code set a = expr}, {@code set a, b = expr}. */
    record Set(List<String> targets, Expr value, int offset) implements Node {}

    /** {@code set ns.attr = expr}, only allowed on namespaces. */
    record SetAttribute(String target, String attribute, Expr value, int offset) implements Node {}

    /** {@code set name [| filters] %}...{% endset}: the rendered body, optionally filtered. */
    record SetBlock(String target, Expr filter, List<Node> body, int offset) implements Node {}

    record Macro(String name, List<Parameter> parameters, List<Node> body, int offset) implements Node {}

    record Parameter(String name, Expr fallback) {}

    /** {@code call [(params)] macro(args) %}...{% endcall}: the body becomes the macro's {@code caller()}. */
    record CallBlock(Expr.Call call, List<Parameter> callerParameters, List<Node> body, int offset) implements Node {}

    /** {@code filter name(args) | ...}: the body rendered and passed through the filter chain. */
    record FilterBlock(Expr filter, List<Node> body, int offset) implements Node {}

    record Break(int offset) implements Node {}

    record Continue(int offset) implements Node {}

    /** transformers' {@code {% generation %}} marks assistant text for masks; rendering just emits the body. */
    record Generation(List<Node> body, int offset) implements Node {}
}
