package dev.isthmus.tokenizers.template;

import java.util.List;
import java.util.Map;

/**
 * The values a template can see. This closed model is the sandbox: a template only ever holds one of these
 * records, so it cannot reach Java objects, classes or reflection whatever attribute names it tries.
 * Semantics follow Python/Jinja (truthiness, {@code str()}, equality), because chat templates are written
 * against transformers' Jinja environment.
 */
sealed interface Value {

    /** A Python {@code str}. */
    record Str(String value) implements Value {
        static final Str EMPTY = new Str("");
    }

    /** A Python {@code int} (64-bit here; overflow is reported rather than wrapped). */
    record Int(long value) implements Value {}

    /** A Python {@code float}. */
    record Real(double value) implements Value {}

    /** A Python {@code bool}. */
    record Bool(boolean value) implements Value {
        static final Bool TRUE = new Bool(true);
        static final Bool FALSE = new Bool(false);

        static Bool of(boolean b) {
            return b ? TRUE : FALSE;
        }
    }

    /** Python {@code None}. */
    enum None implements Value { INSTANCE }

    /**
     * Jinja's default {@code Undefined}: renders as nothing, is falsy and iterates as empty, but most other
     * uses (attribute access, arithmetic, calls) fail with {@link #reason}.
     */
    record Undefined(String reason) implements Value {
        static final Undefined ANONYMOUS = new Undefined("value is undefined");
    }

    /** An immutable Python list or tuple. */
    record Seq(List<Value> items, boolean tuple) implements Value {
        static Seq list(List<Value> items) {
            return new Seq(List.copyOf(items), false);
        }

        static Seq tuple(Value... items) {
            return new Seq(List.of(items), true);
        }
    }

    /** An immutable dict with string keys, in insertion order (as JSON objects and Python dicts are). */
    record Dict(Map<String, Value> entries) implements Value {}

    /** Jinja's {@code namespace()}: the only mutable value, and only through {@code {% set ns.attr = ... %}}. */
    record Namespace(Map<String, Value> attributes) implements Value {}

    /** A lazy {@code range()}, so that {@code range(10**9)} costs nothing until iterated under the budget. */
    record Range(long start, long stop, long step) implements Value {
        long size() {
            try {
                if (step > 0) {
                    return start >= stop ? 0 : (Math.subtractExact(stop, start) - 1) / step + 1;
                }
                return start <= stop ? 0 : (Math.subtractExact(start, stop) - 1) / Math.negateExact(step) + 1;
            } catch (ArithmeticException e) {
                throw new TemplateException("range() too large: " + start + ", " + stop + ", " + step);
            }
        }

        long get(long index) {
            return start + index * step;
        }
    }

    /** The {@code loop} variable of a for statement. */
    record Loop(long index0, long length, Value previous, Value next) implements Value {}

    /** Something callable: a macro, a global helper or a method bound to its receiver. */
    record Callable(String name, Function function) implements Value {}

    /** The body of a {@link Callable}. */
    @FunctionalInterface
    interface Function {
        Value call(Arguments arguments);
    }
}
