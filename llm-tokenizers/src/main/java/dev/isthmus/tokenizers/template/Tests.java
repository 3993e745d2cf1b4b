package dev.isthmus.tokenizers.template;

import java.util.List;

/** Jinja's tests ({@code x is defined}, {@code x is divisibleby 3}, ...), with Python's type rules. */
final class Tests {

    private Tests() {}

    static boolean apply(String name, Value value, List<Value> args, Budget budget) {
        return switch (name) {
            case "defined" -> !(value instanceof Value.Undefined);
            case "undefined" -> value instanceof Value.Undefined;
            case "none" -> value instanceof Value.None;
            case "boolean" -> value instanceof Value.Bool;
            case "true" -> value instanceof Value.Bool b && b.value();
            case "false" -> value instanceof Value.Bool b && !b.value();
            case "integer" -> value instanceof Value.Int;
            case "float" -> value instanceof Value.Real;
            case "number" -> Operators.isNumber(value); // bool is a Number in Python
            case "string" -> value instanceof Value.Str;
            case "mapping" -> value instanceof Value.Dict;
            case "iterable" -> value instanceof Value.Str || value instanceof Value.Seq || value instanceof Value.Dict
                    || value instanceof Value.Range || value instanceof Value.Undefined;
            case "sequence" -> value instanceof Value.Str || value instanceof Value.Seq || value instanceof Value.Dict
                    || value instanceof Value.Range || value instanceof Value.Undefined;
            case "callable" -> value instanceof Value.Callable;
            case "odd" -> integer(value, name) % 2 != 0;
            case "even" -> integer(value, name) % 2 == 0;
            case "divisibleby" -> {
                long divisor = integer(argument(args, name), name);
                if (divisor == 0) {
                    throw new TemplateException("divisibleby: division by zero");
                }
                yield integer(value, name) % divisor == 0;
            }
            case "lower" -> value instanceof Value.Str s && s.value().equals(s.value().toLowerCase(java.util.Locale.ROOT));
            case "upper" -> value instanceof Value.Str s && s.value().equals(s.value().toUpperCase(java.util.Locale.ROOT));
            case "in" -> Operators.contains(argument(args, name), value, budget);
            case "eq", "equalto", "==" -> Operators.equal(value, argument(args, name));
            case "ne", "!=" -> !Operators.equal(value, argument(args, name));
            case "lt", "lessthan", "<" -> Operators.compare(value, argument(args, name)) < 0;
            case "le", "<=" -> Operators.compare(value, argument(args, name)) <= 0;
            case "gt", "greaterthan", ">" -> Operators.compare(value, argument(args, name)) > 0;
            case "ge", ">=" -> Operators.compare(value, argument(args, name)) >= 0;
            case "sameas" -> sameAs(value, argument(args, name));
            case "escaped" -> false;
            case "filter" -> value instanceof Value.Str s && Filters.exists(s.value());
            case "test" -> value instanceof Value.Str s && exists(s.value());
            default -> throw new TemplateException("no test named '" + name + "'");
        };
    }

    private static final java.util.Set<String> NAMES = java.util.Set.of("defined", "undefined", "none", "boolean",
            "true", "false", "integer", "float", "number", "string", "mapping", "iterable", "sequence", "callable",
            "odd", "even", "divisibleby", "lower", "upper", "in", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan",
            "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "sameas", "escaped", "filter", "test");

    static boolean exists(String name) {
        return NAMES.contains(name);
    }

    /** Python's {@code is}: identity, which for the singletons None/True/False is equality of kind and value. */
    private static boolean sameAs(Value a, Value b) {
        return switch (a) {
            case Value.None n -> b instanceof Value.None;
            case Value.Bool x -> b instanceof Value.Bool y && x.value() == y.value();
            case Value.Undefined u -> b instanceof Value.Undefined;
            default -> a == b;
        };
    }

    private static Value argument(List<Value> args, String test) {
        if (args.isEmpty()) {
            throw new TemplateException("test '" + test + "' needs an argument");
        }
        return args.getFirst();
    }

    private static long integer(Value value, String test) {
        Long n = Operators.toLong(value);
        if (n == null) {
            if (value instanceof Value.Real r && r.value() == Math.rint(r.value())) {
                return (long) r.value();
            }
            throw new TemplateException("test '" + test + "' needs an integer, got " + Operators.typeName(value));
        }
        return n;
    }
}
