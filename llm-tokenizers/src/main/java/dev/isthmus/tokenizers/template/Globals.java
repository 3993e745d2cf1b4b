package dev.isthmus.tokenizers.template;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The global functions a chat template may call: Jinja's {@code range}, {@code namespace} and {@code dict},
 * and transformers' {@code raise_exception} and {@code strftime_now}. Nothing else is reachable.
 */
final class Globals {

    private Globals() {}

    static Map<String, Value> create(Clock clock, Budget budget) {
        Map<String, Value> globals = new LinkedHashMap<>();
        globals.put("range", new Value.Callable("range", Globals::range));
        globals.put("namespace", new Value.Callable("namespace",
                args -> new Value.Namespace(mapping(args, budget, "namespace"))));
        globals.put("dict", new Value.Callable("dict",
                args -> new Value.Dict(java.util.Collections.unmodifiableMap(mapping(args, budget, "dict")))));
        globals.put("raise_exception", new Value.Callable("raise_exception", args -> {
            throw new TemplateException(PythonText.str(args.get(0, "message", Value.Str.EMPTY)));
        }));
        globals.put("strftime_now", new Value.Callable("strftime_now",
                args -> new Value.Str(strftime(PythonText.str(args.required(0, "format", "strftime_now")),
                        ZonedDateTime.now(clock)))));
        return globals;
    }

    private static Value range(Arguments args) {
        if (!args.keyword().isEmpty()) {
            throw new TemplateException("range() takes no keyword arguments");
        }
        long[] bounds = new long[args.size()];
        for (int i = 0; i < bounds.length; i++) {
            Long n = Operators.toLong(args.positional().get(i));
            if (n == null) {
                throw new TemplateException("range() arguments must be integers, got "
                        + Operators.typeName(args.positional().get(i)));
            }
            bounds[i] = n;
        }
        return switch (bounds.length) {
            case 1 -> new Value.Range(0, bounds[0], 1);
            case 2 -> new Value.Range(bounds[0], bounds[1], 1);
            case 3 -> {
                if (bounds[2] == 0) {
                    throw new TemplateException("range() arg 3 must not be zero");
                }
                yield new Value.Range(bounds[0], bounds[1], bounds[2]);
            }
            default -> throw new TemplateException("range expected 1 to 3 arguments, got " + bounds.length);
        };
    }

    /** Python's dict(*args, **kwargs): an optional mapping or iterable of pairs, then keyword entries. */
    private static Map<String, Value> mapping(Arguments args, Budget budget, String function) {
        Map<String, Value> entries = new LinkedHashMap<>();
        if (args.size() > 1) {
            throw new TemplateException(function + "() expected at most 1 positional argument");
        }
        if (args.size() == 1) {
            Value source = args.positional().getFirst();
            switch (source) {
                case Value.Dict dict -> entries.putAll(dict.entries());
                case Value.Namespace ns -> entries.putAll(ns.attributes());
                default -> {
                    for (Value pair : Operators.iterate(source, budget)) {
                        List<Value> items = Operators.iterate(pair, budget);
                        if (items.size() != 2 || !(items.getFirst() instanceof Value.Str key)) {
                            throw new TemplateException(function + "() needs (string key, value) pairs");
                        }
                        entries.put(key.value(), items.get(1));
                    }
                }
            }
        }
        entries.putAll(args.keyword());
        return entries;
    }

    /** Python's strftime for the C locale, including glibc's {@code %-d} style unpadded fields. */
    static String strftime(String format, ZonedDateTime t) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            boolean unpadded = false;
            if (d == '-' && i + 1 < format.length()) {
                unpadded = true;
                d = format.charAt(++i);
            }
            String field = switch (d) {
                case 'Y' -> Integer.toString(t.getYear());
                case 'y' -> pad(t.getYear() % 100, 2, unpadded);
                case 'm' -> pad(t.getMonthValue(), 2, unpadded);
                case 'd' -> pad(t.getDayOfMonth(), 2, unpadded);
                case 'e' -> String.format("%2d", t.getDayOfMonth());
                case 'H' -> pad(t.getHour(), 2, unpadded);
                case 'I' -> pad(t.getHour() % 12 == 0 ? 12 : t.getHour() % 12, 2, unpadded);
                case 'M' -> pad(t.getMinute(), 2, unpadded);
                case 'S' -> pad(t.getSecond(), 2, unpadded);
                case 'f' -> pad(t.getNano() / 1000, 6, false);
                case 'j' -> pad(t.getDayOfYear(), 3, unpadded);
                case 'p' -> t.getHour() < 12 ? "AM" : "PM";
                case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'w' -> Integer.toString(t.getDayOfWeek().getValue() % 7);
                case 'u' -> Integer.toString(t.getDayOfWeek().getValue());
                case 'Z' -> t.getZone().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'z' -> t.getOffset().getId().equals("Z") ? "+0000" : t.getOffset().getId().replace(":", "");
                case 'D' -> strftime("%m/%d/%y", t);
                case 'F' -> strftime("%Y-%m-%d", t);
                case 'T' -> strftime("%H:%M:%S", t);
                case '%' -> "%";
                default -> "%" + (unpadded ? "-" : "") + d;
            };
            out.append(field);
        }
        return out.toString();
    }

    private static String pad(int value, int width, boolean unpadded) {
        String digits = Integer.toString(value);
        return unpadded || digits.length() >= width ? digits : "0".repeat(width - digits.length()) + digits;
    }
}
