package dev.isthmus.tokenizers.template;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks a parsed template and writes its output. One instance renders once: it owns the {@link Budget} that
 * bounds the render. Scoping follows Jinja: a for-loop iteration and a macro call open a scope, {@code if}
 * does not, so {@code set} inside a loop is invisible after it (templates use {@code namespace} for that).
 */
final class Interpreter {

    private enum Flow { NORMAL, BREAK, CONTINUE }

    /**
     * Variables of one scope; lookups fall back to the enclosing scope. Scopes hold few names and one is
     * opened per loop iteration, so small parallel arrays beat a hash map here.
     */
    private static final class Scope {
        private final Scope parent;
        private String[] names = new String[4];
        private Value[] values = new Value[4];
        private int size;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Value lookup(String name) {
            for (Scope scope = this; scope != null; scope = scope.parent) {
                for (int i = scope.size - 1; i >= 0; i--) {
                    if (scope.names[i].equals(name)) {
                        return scope.values[i];
                    }
                }
            }
            return null;
        }

        void set(String name, Value value) {
            for (int i = 0; i < size; i++) {
                if (names[i].equals(name)) {
                    values[i] = value;
                    return;
                }
            }
            if (size == names.length) {
                names = java.util.Arrays.copyOf(names, size * 2);
                values = java.util.Arrays.copyOf(values, size * 2);
            }
            names[size] = name;
            values[size++] = value;
        }
    }

    private final SourceText source;
    private final Budget budget;
    private final Clock clock;

    Interpreter(SourceText source, TemplateLimits limits, Clock clock) {
        this.source = source;
        this.budget = new Budget(limits);
        this.clock = clock;
    }

    String render(List<Node> template, Map<String, Value> variables) {
        Scope globals = new Scope(null);
        Globals.create(clock, budget).forEach(globals::set);
        Scope context = new Scope(globals);
        variables.forEach(context::set);
        StringBuilder out = new StringBuilder();
        execute(template, context, out);
        return out.toString();
    }

    // ---- statements ------------------------------------------------------------------------------------

    private Flow execute(List<Node> nodes, Scope scope, StringBuilder out) {
        for (Node node : nodes) {
            Flow flow = executeNode(node, scope, out);
            if (flow != Flow.NORMAL) {
                return flow;
            }
        }
        return Flow.NORMAL;
    }

    private Flow executeNode(Node node, Scope scope, StringBuilder out) {
        budget.step();
        try {
            switch (node) {
                case Node.Text text -> write(out, text.text());
                case Node.Output output -> write(out, PythonText.str(evaluate(output.expr(), scope)));
                case Node.If ifNode -> {
                    for (Node.Branch branch : ifNode.branches()) {
                        if (Operators.truthy(evaluate(branch.test(), scope))) {
                            return execute(branch.body(), scope, out);
                        }
                    }
                    return execute(ifNode.otherwise(), scope, out);
                }
                case Node.For loop -> executeFor(loop, scope, out);
                case Node.Set set -> assign(set.targets(), evaluate(set.value(), scope), scope);
                case Node.SetAttribute set -> {
                    Value target = scope.lookup(set.target());
                    if (!(target instanceof Value.Namespace ns)) {
                        throw new TemplateException("cannot assign attribute on non-namespace object '"
                                + set.target() + "'");
                    }
                    ns.attributes().put(set.attribute(), evaluate(set.value(), scope));
                }
                case Node.SetBlock set -> {
                    StringBuilder body = new StringBuilder();
                    execute(set.body(), scope, body);
                    Value value = new Value.Str(body.toString());
                    scope.set(set.target(), set.filter() == null ? value : evaluateFilter(set.filter(), value, scope));
                }
                case Node.Macro macro -> scope.set(macro.name(), macro(macro.name(), macro.parameters(), macro.body(),
                        scope));
                case Node.CallBlock call -> {
                    Value caller = macro("caller", call.callerParameters(), call.body(), scope);
                    Value callee = evaluate(call.call().callee(), scope);
                    Arguments args = arguments(call.call().args(), call.call().kwargs(), scope);
                    Map<String, Value> keyword = new LinkedHashMap<>(args.keyword());
                    keyword.put("caller", caller);
                    write(out, PythonText.str(invoke(callee, new Arguments(args.positional(), keyword))));
                }
                case Node.FilterBlock filter -> {
                    StringBuilder body = new StringBuilder();
                    execute(filter.body(), scope, body);
                    write(out, PythonText.str(evaluateFilter(filter.filter(), new Value.Str(body.toString()), scope)));
                }
                case Node.Break b -> {
                    return Flow.BREAK;
                }
                case Node.Continue c -> {
                    return Flow.CONTINUE;
                }
                case Node.Generation generation -> {
                    return execute(generation.body(), scope, out);
                }
            }
            return Flow.NORMAL;
        } catch (TemplateException e) {
            throw positioned(e, node.offset());
        }
    }

    private void executeFor(Node.For loop, Scope scope, StringBuilder out) {
        Value iterable = evaluate(loop.iterable(), scope);
        // A range without a filter is walked lazily, so range(10**9) only costs the iterations actually run.
        Value.Range range = iterable instanceof Value.Range r && loop.filter() == null ? r : null;
        List<Value> items = range != null ? null : Operators.iterate(iterable, budget);
        if (loop.filter() != null) {
            List<Value> kept = new ArrayList<>();
            for (Value item : items) {
                budget.step();
                Scope filterScope = new Scope(scope);
                assign(loop.targets(), item, filterScope);
                if (Operators.truthy(evaluate(loop.filter(), filterScope))) {
                    kept.add(item);
                }
            }
            items = kept;
        }
        long length = range != null ? range.size() : items.size();
        for (long i = 0; i < length; i++) {
            budget.step();
            Scope iteration = new Scope(scope);
            assign(loop.targets(), element(range, items, i), iteration);
            Value previous = i > 0 ? element(range, items, i - 1) : new Value.Undefined("there is no previous item");
            Value next = i + 1 < length ? element(range, items, i + 1) : new Value.Undefined("there is no next item");
            iteration.set("loop", new Value.Loop(i, length, previous, next));
            if (execute(loop.body(), iteration, out) == Flow.BREAK) {
                break;
            }
        }
        if (length == 0) {
            execute(loop.otherwise(), new Scope(scope), out);
        }
    }

    private static Value element(Value.Range range, List<Value> items, long i) {
        return range != null ? new Value.Int(range.get(i)) : items.get((int) i);
    }

    private void assign(List<String> targets, Value value, Scope scope) {
        if (targets.size() == 1) {
            scope.set(targets.getFirst(), value);
            return;
        }
        List<Value> parts = Operators.iterate(value, budget);
        if (parts.size() != targets.size()) {
            throw new TemplateException((parts.size() < targets.size() ? "not enough" : "too many")
                    + " values to unpack (expected " + targets.size() + ", got " + parts.size() + ")");
        }
        for (int i = 0; i < targets.size(); i++) {
            scope.set(targets.get(i), parts.get(i));
        }
    }

    private Value macro(String name, List<Node.Parameter> parameters, List<Node> body, Scope closure) {
        return new Value.Callable(name, args -> {
            budget.enter();
            try {
                Scope scope = new Scope(closure);
                List<Value> positional = args.positional();
                Map<String, Value> keyword = new LinkedHashMap<>(args.keyword());
                Value caller = keyword.remove("caller");
                if (caller != null) {
                    scope.set("caller", caller);
                }
                for (int i = 0; i < parameters.size(); i++) {
                    Node.Parameter parameter = parameters.get(i);
                    Value value = i < positional.size() ? positional.get(i) : keyword.remove(parameter.name());
                    if (value == null) {
                        value = parameter.fallback() != null ? evaluate(parameter.fallback(), scope)
                                : new Value.Undefined("parameter '" + parameter.name() + "' was not provided");
                    }
                    scope.set(parameter.name(), value);
                }
                List<Value> extra = positional.size() > parameters.size()
                        ? positional.subList(parameters.size(), positional.size()) : List.of();
                scope.set("varargs", new Value.Seq(List.copyOf(extra), true));
                scope.set("kwargs", new Value.Dict(Collections.unmodifiableMap(keyword)));
                StringBuilder out = new StringBuilder();
                execute(body, scope, out);
                return new Value.Str(out.toString());
            } finally {
                budget.exit();
            }
        });
    }

    private void write(StringBuilder out, String text) {
        budget.output(text.length());
        out.append(text);
    }

    private TemplateException positioned(TemplateException e, int offset) {
        return e.at(source.line(offset), source.column(offset));
    }

    // ---- expressions -----------------------------------------------------------------------------------

    Value evaluate(Expr expr, Scope scope) {
        budget.step();
        try {
            return switch (expr) {
                case Expr.Literal literal -> literal.value();
                case Expr.Name name -> {
                    Value value = scope.lookup(name.name());
                    yield value != null ? value : new Value.Undefined("'" + name.name() + "' is undefined");
                }
                case Expr.ListLiteral list -> {
                    List<Value> items = new ArrayList<>(list.items().size());
                    for (Expr item : list.items()) {
                        items.add(evaluate(item, scope));
                    }
                    yield new Value.Seq(Collections.unmodifiableList(items), list.tuple());
                }
                case Expr.DictLiteral dict -> {
                    Map<String, Value> entries = new LinkedHashMap<>();
                    for (int i = 0; i < dict.keys().size(); i++) {
                        Value key = evaluate(dict.keys().get(i), scope);
                        if (!(key instanceof Value.Str s)) {
                            throw new TemplateException("dict keys must be strings here, got " + Operators.typeName(key));
                        }
                        entries.put(s.value(), evaluate(dict.values().get(i), scope));
                    }
                    yield new Value.Dict(Collections.unmodifiableMap(entries));
                }
                case Expr.Attribute attribute -> Members.attribute(evaluate(attribute.object(), scope), attribute.name(),
                        budget);
                case Expr.Item item -> Members.item(evaluate(item.object(), scope), evaluate(item.key(), scope), budget);
                case Expr.Slice slice -> Members.slice(evaluate(slice.object(), scope), optional(slice.start(), scope),
                        optional(slice.stop(), scope), optional(slice.step(), scope), budget);
                case Expr.Call call -> invoke(evaluate(call.callee(), scope), arguments(call.args(), call.kwargs(), scope));
                case Expr.Filter filter -> evaluateFilter(filter, null, scope);
                case Expr.Test test -> {
                    Value value = evaluate(test.operand(), scope);
                    List<Value> args = new ArrayList<>();
                    for (Expr arg : test.args()) {
                        args.add(evaluate(arg, scope));
                    }
                    yield Value.Bool.of(Tests.apply(test.name(), value, args, budget) != test.negated());
                }
                case Expr.Unary unary -> {
                    Value operand = evaluate(unary.operand(), scope);
                    yield switch (unary.operator()) {
                        case "not" -> Value.Bool.of(!Operators.truthy(operand));
                        case "-" -> Operators.negate(operand);
                        default -> {
                            if (!Operators.isNumber(operand)) {
                                throw new TemplateException("bad operand type for unary +: '"
                                        + Operators.typeName(operand) + "'");
                            }
                            yield operand instanceof Value.Bool b ? new Value.Int(b.value() ? 1 : 0) : operand;
                        }
                    };
                }
                case Expr.Binary binary -> binary(binary, scope);
                case Expr.Compare compare -> {
                    Value left = evaluate(compare.first(), scope);
                    for (int i = 0; i < compare.operators().size(); i++) {
                        Value right = evaluate(compare.operands().get(i), scope);
                        if (!compare(compare.operators().get(i), left, right)) {
                            yield Value.Bool.FALSE;
                        }
                        left = right;
                    }
                    yield Value.Bool.TRUE;
                }
                case Expr.Conditional conditional -> {
                    if (Operators.truthy(evaluate(conditional.test(), scope))) {
                        yield evaluate(conditional.then(), scope);
                    }
                    yield conditional.otherwise() == null
                            ? new Value.Undefined("the inline if-expression evaluated to false and no else "
                                    + "section was defined")
                            : evaluate(conditional.otherwise(), scope);
                }
            };
        } catch (TemplateException e) {
            throw positioned(e, expr.offset());
        }
    }

    private Value optional(Expr expr, Scope scope) {
        return expr == null ? null : evaluate(expr, scope);
    }

    private Value binary(Expr.Binary binary, Scope scope) {
        Value left = evaluate(binary.left(), scope);
        return switch (binary.operator()) {
            // Python's and/or return an operand, not a bool
            case "and" -> Operators.truthy(left) ? evaluate(binary.right(), scope) : left;
            case "or" -> Operators.truthy(left) ? left : evaluate(binary.right(), scope);
            case "~" -> {
                String a = PythonText.str(left);
                String b = PythonText.str(evaluate(binary.right(), scope));
                budget.checkString((long) a.length() + b.length());
                yield new Value.Str(a + b);
            }
            default -> Operators.binary(binary.operator(), left, evaluate(binary.right(), scope), budget);
        };
    }

    private boolean compare(String operator, Value left, Value right) {
        return switch (operator) {
            case "==" -> Operators.equal(left, right);
            case "!=" -> !Operators.equal(left, right);
            case "<" -> Operators.compare(left, right) < 0;
            case "<=" -> Operators.compare(left, right) <= 0;
            case ">" -> Operators.compare(left, right) > 0;
            case ">=" -> Operators.compare(left, right) >= 0;
            case "in" -> Operators.contains(right, left, budget);
            case "not in" -> !Operators.contains(right, left, budget);
            default -> throw new IllegalStateException(operator);
        };
    }

    private Arguments arguments(List<Expr> args, Map<String, Expr> kwargs, Scope scope) {
        if (args.isEmpty() && kwargs.isEmpty()) {
            return Arguments.NONE;
        }
        List<Value> positional = new ArrayList<>(args.size());
        for (Expr arg : args) {
            positional.add(evaluate(arg, scope));
        }
        Map<String, Value> keyword = new LinkedHashMap<>();
        for (Map.Entry<String, Expr> entry : kwargs.entrySet()) {
            keyword.put(entry.getKey(), evaluate(entry.getValue(), scope));
        }
        return new Arguments(positional, keyword);
    }

    private Value invoke(Value callee, Arguments args) {
        return switch (callee) {
            case Value.Callable callable -> callable.function().call(args);
            case Value.Undefined u -> throw new TemplateException(u.reason());
            default -> throw new TemplateException("'" + Operators.typeName(callee) + "' object is not callable");
        };
    }

    /**
     * Applies a filter chain. The innermost operand is either an expression or, for {@code {% filter %}} and
     * filtered block sets, absent: then {@code blockBody} is the input.
     */
    private Value evaluateFilter(Expr expr, Value blockBody, Scope scope) {
        if (!(expr instanceof Expr.Filter filter)) {
            throw new IllegalStateException("not a filter: " + expr);
        }
        Value operand = filter.operand() == null ? blockBody
                : filter.operand() instanceof Expr.Filter inner ? evaluateFilter(inner, blockBody, scope)
                : evaluate(filter.operand(), scope);
        return Filters.apply(filter.name(), operand, arguments(filter.args(), filter.kwargs(), scope), budget);
    }
}
