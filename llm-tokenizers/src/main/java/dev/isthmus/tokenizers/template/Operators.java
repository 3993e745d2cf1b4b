package dev.isthmus.tokenizers.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python semantics of truthiness, equality, ordering, arithmetic, membership and iteration over {@link Value}s. */
final class Operators {

    private Operators() {}

    static boolean truthy(Value value) {
        return switch (value) {
            case Value.Str s -> !s.value().isEmpty();
            case Value.Int i -> i.value() != 0;
            case Value.Real r -> r.value() != 0;
            case Value.Bool b -> b.value();
            case Value.None n -> false;
            case Value.Undefined u -> false;
            case Value.Seq seq -> !seq.items().isEmpty();
            case Value.Dict dict -> !dict.entries().isEmpty();
            case Value.Range range -> range.size() > 0;
            default -> true;
        };
    }

    /** Python's type name, as error messages show it. */
    static String typeName(Value value) {
        return switch (value) {
            case Value.Str s -> "str";
            case Value.Int i -> "int";
            case Value.Real r -> "float";
            case Value.Bool b -> "bool";
            case Value.None n -> "NoneType";
            case Value.Undefined u -> "Undefined";
            case Value.Seq seq -> seq.tuple() ? "tuple" : "list";
            case Value.Dict d -> "dict";
            case Value.Namespace ns -> "Namespace";
            case Value.Range r -> "range";
            case Value.Loop l -> "LoopContext";
            case Value.Callable c -> "function";
        };
    }

    static boolean isNumber(Value value) {
        return value instanceof Value.Int || value instanceof Value.Real || value instanceof Value.Bool;
    }

    static double toDouble(Value value) {
        return switch (value) {
            case Value.Int i -> i.value();
            case Value.Real r -> r.value();
            case Value.Bool b -> b.value() ? 1 : 0;
            default -> throw new TemplateException("expected a number, got " + typeName(value));
        };
    }

    /** An integer operand (bools count, as in Python), or null when the value is not integral. */
    static Long toLong(Value value) {
        return switch (value) {
            case Value.Int i -> i.value();
            case Value.Bool b -> b.value() ? 1L : 0L;
            default -> null;
        };
    }

    static boolean equal(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            Long x = toLong(a);
            Long y = toLong(b);
            return x != null && y != null ? x.longValue() == y.longValue() : toDouble(a) == toDouble(b);
        }
        return switch (a) {
            case Value.Str s -> b instanceof Value.Str t && s.value().equals(t.value());
            case Value.None n -> b instanceof Value.None;
            case Value.Undefined u -> b instanceof Value.Undefined;
            case Value.Seq s -> b instanceof Value.Seq t && s.tuple() == t.tuple() && equalLists(s.items(), t.items());
            case Value.Dict d -> b instanceof Value.Dict e && equalMaps(d.entries(), e.entries());
            case Value.Range r -> b instanceof Value.Range q && r.equals(q);
            default -> a == b;
        };
    }

    private static boolean equalLists(List<Value> a, List<Value> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!equal(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static boolean equalMaps(Map<String, Value> a, Map<String, Value> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (Map.Entry<String, Value> entry : a.entrySet()) {
            Value other = b.get(entry.getKey());
            if (other == null || !equal(entry.getValue(), other)) {
                return false;
            }
        }
        return true;
    }

    /** Python ordering ({@code <}): numbers with numbers, strings with strings, sequences lexicographically. */
    static int compare(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            Long x = toLong(a);
            Long y = toLong(b);
            return x != null && y != null ? Long.compare(x, y) : Double.compare(toDouble(a), toDouble(b));
        }
        if (a instanceof Value.Str s && b instanceof Value.Str t) {
            return s.value().compareTo(t.value());
        }
        if (a instanceof Value.Seq s && b instanceof Value.Seq t) {
            int n = Math.min(s.items().size(), t.items().size());
            for (int i = 0; i < n; i++) {
                if (!equal(s.items().get(i), t.items().get(i))) {
                    return compare(s.items().get(i), t.items().get(i));
                }
            }
            return Integer.compare(s.items().size(), t.items().size());
        }
        throw new TemplateException("'<' not supported between instances of '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    static boolean contains(Value container, Value item, Budget budget) {
        return switch (container) {
            case Value.Str s -> {
                if (!(item instanceof Value.Str t)) {
                    throw new TemplateException("'in <string>' requires string as left operand, not " + typeName(item));
                }
                yield s.value().contains(t.value());
            }
            case Value.Dict d -> item instanceof Value.Str t && d.entries().containsKey(t.value());
            case Value.Namespace ns -> item instanceof Value.Str t && ns.attributes().containsKey(t.value());
            case Value.Undefined u -> false;
            case Value.Range r -> {
                Long x = toLong(item);
                if (x == null) {
                    yield false;
                }
                long offset = x - r.start();
                yield r.size() > 0 && offset % r.step() == 0 && offset / r.step() >= 0 && offset / r.step() < r.size();
            }
            default -> {
                for (Value element : iterate(container, budget)) {
                    if (equal(element, item)) {
                        yield true;
                    }
                }
                yield false;
            }
        };
    }

    /** The items a for loop (or a filter) sees: list items, dict keys, string characters, range numbers. */
    static List<Value> iterate(Value value, Budget budget) {
        return switch (value) {
            case Value.Seq seq -> seq.items();
            case Value.Dict dict -> {
                List<Value> keys = new ArrayList<>(dict.entries().size());
                for (String key : dict.entries().keySet()) {
                    keys.add(new Value.Str(key));
                }
                yield keys;
            }
            case Value.Str s -> {
                List<Value> chars = new ArrayList<>(s.value().length());
                s.value().codePoints().forEach(cp -> chars.add(new Value.Str(Character.toString(cp))));
                yield chars;
            }
            case Value.Range range -> {
                long size = range.size();
                budget.charge(size); // materialising a range costs its length up front
                List<Value> numbers = new ArrayList<>((int) size);
                for (long i = 0; i < size; i++) {
                    numbers.add(new Value.Int(range.get(i)));
                }
                yield numbers;
            }
            case Value.Undefined u -> List.of();
            default -> throw new TemplateException("'" + typeName(value) + "' object is not iterable");
        };
    }

    static long length(Value value) {
        return switch (value) {
            case Value.Str s -> s.value().codePointCount(0, s.value().length());
            case Value.Seq seq -> seq.items().size();
            case Value.Dict dict -> dict.entries().size();
            case Value.Range range -> range.size();
            case Value.Undefined u -> 0;
            case Value.Namespace ns -> ns.attributes().size();
            default -> throw new TemplateException("object of type '" + typeName(value) + "' has no len()");
        };
    }

    // ---- arithmetic ----------------------------------------------------------------------------------

    static Value binary(String operator, Value a, Value b, Budget budget) {
        if (a instanceof Value.Undefined u) {
            throw new TemplateException(u.reason());
        }
        if (b instanceof Value.Undefined u) {
            throw new TemplateException(u.reason());
        }
        return switch (operator) {
            case "+" -> add(a, b, budget);
            case "-" -> arithmetic(operator, a, b);
            case "*" -> multiply(a, b, budget);
            case "/" -> {
                double divisor = numeric(operator, a, b);
                if (divisor == 0) {
                    throw new TemplateException("division by zero");
                }
                yield new Value.Real(toDouble(a) / divisor);
            }
            case "//", "%" -> floorDivOrMod(operator, a, b);
            case "**" -> power(a, b);
            default -> throw new IllegalStateException("unknown operator " + operator);
        };
    }

    private static Value add(Value a, Value b, Budget budget) {
        if (a instanceof Value.Str s && b instanceof Value.Str t) {
            budget.checkString((long) s.value().length() + t.value().length());
            return new Value.Str(s.value() + t.value());
        }
        if (a instanceof Value.Seq s && b instanceof Value.Seq t && s.tuple() == t.tuple()) {
            budget.charge(s.items().size() + t.items().size());
            List<Value> items = new ArrayList<>(s.items());
            items.addAll(t.items());
            return new Value.Seq(List.copyOf(items), s.tuple());
        }
        return arithmetic("+", a, b);
    }

    private static Value multiply(Value a, Value b, Budget budget) {
        if (a instanceof Value.Str || a instanceof Value.Seq) {
            return repeat(a, b, budget);
        }
        if (b instanceof Value.Str || b instanceof Value.Seq) {
            return repeat(b, a, budget);
        }
        return arithmetic("*", a, b);
    }

    private static Value repeat(Value sequence, Value times, Budget budget) {
        Long n = toLong(times);
        if (n == null) {
            throw new TemplateException("can't multiply sequence by non-int of type '" + typeName(times) + "'");
        }
        long count = Math.max(0, n);
        if (sequence instanceof Value.Str s) {
            budget.checkString(saturatedProduct(s.value().length(), count));
            return new Value.Str(s.value().repeat((int) count));
        }
        Value.Seq seq = (Value.Seq) sequence;
        budget.charge(saturatedProduct(seq.items().size(), count));
        List<Value> items = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            items.addAll(seq.items());
        }
        return new Value.Seq(List.copyOf(items), seq.tuple());
    }

    /** a * b for non-negative operands, Long.MAX_VALUE when that overflows (so limits still trip). */
    private static long saturatedProduct(long a, long b) {
        long high = Math.multiplyHigh(a, b);
        long product = a * b;
        return high != 0 || product < 0 ? Long.MAX_VALUE : product;
    }

    private static double numeric(String operator, Value a, Value b) {
        if (!isNumber(a) || !isNumber(b)) {
            throw unsupported(operator, a, b);
        }
        return toDouble(b);
    }

    private static Value arithmetic(String operator, Value a, Value b) {
        numeric(operator, a, b);
        Long x = toLong(a);
        Long y = toLong(b);
        try {
            if (x != null && y != null) {
                return new Value.Int(switch (operator) {
                    case "+" -> Math.addExact(x, y);
                    case "-" -> Math.subtractExact(x, y);
                    default -> Math.multiplyExact(x, y);
                });
            }
        } catch (ArithmeticException e) {
            throw new TemplateException("integer overflow in '" + operator + "'");
        }
        double p = toDouble(a);
        double q = toDouble(b);
        return new Value.Real(switch (operator) {
            case "+" -> p + q;
            case "-" -> p - q;
            default -> p * q;
        });
    }

    private static Value floorDivOrMod(String operator, Value a, Value b) {
        double divisor = numeric(operator, a, b);
        if (divisor == 0) {
            throw new TemplateException(operator.equals("%") ? "modulo by zero" : "division by zero");
        }
        Long x = toLong(a);
        Long y = toLong(b);
        if (x != null && y != null) {
            return new Value.Int(operator.equals("%") ? Math.floorMod(x, y) : Math.floorDiv(x, y));
        }
        double p = toDouble(a);
        double floor = Math.floor(p / divisor);
        return new Value.Real(operator.equals("%") ? p - floor * divisor : floor);
    }

    private static Value power(Value a, Value b) {
        numeric("**", a, b);
        Long x = toLong(a);
        Long y = toLong(b);
        if (x != null && y != null && y >= 0) {
            long result = 1;
            long base = x;
            long exponent = y;
            try {
                while (exponent > 0) {
                    if ((exponent & 1) == 1) {
                        result = Math.multiplyExact(result, base);
                    }
                    exponent >>= 1;
                    if (exponent > 0) {
                        base = Math.multiplyExact(base, base);
                    }
                }
            } catch (ArithmeticException e) {
                throw new TemplateException("integer overflow in '**'");
            }
            return new Value.Int(result);
        }
        return new Value.Real(Math.pow(toDouble(a), toDouble(b)));
    }

    static Value negate(Value value) {
        return switch (value) {
            case Value.Int i -> {
                if (i.value() == Long.MIN_VALUE) {
                    throw new TemplateException("integer overflow in unary '-'");
                }
                yield new Value.Int(-i.value());
            }
            case Value.Real r -> new Value.Real(-r.value());
            case Value.Bool b -> new Value.Int(b.value() ? -1 : 0);
            case Value.Undefined u -> throw new TemplateException(u.reason());
            default -> throw new TemplateException("bad operand type for unary -: '" + typeName(value) + "'");
        };
    }

    private static TemplateException unsupported(String operator, Value a, Value b) {
        return new TemplateException("unsupported operand type(s) for " + operator + ": '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }
}
