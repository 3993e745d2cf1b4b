package dev.isthmus.tokenizers.template;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Jinja's built-in filters as jinja2/filters.py defines them, plus transformers' own {@code tojson}. */
final class Filters {

    private static final Set<String> NAMES = Set.of("abs", "attr", "capitalize", "center", "count", "d",
            "default", "dictsort", "e", "escape", "first", "float", "forceescape", "indent", "int", "items", "join",
            "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
            "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique",
            "upper", "wordcount");
    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WORD_BEGINNING = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);

    private Filters() {}

    static boolean exists(String name) {
        return NAMES.contains(name);
    }

    static Value apply(String name, Value value, Arguments args, Budget budget) {
        return switch (name) {
            case "safe" -> value;
            case "string" -> new Value.Str(PythonText.str(value));
            case "trim" -> new Value.Str(PythonText.strip(PythonText.str(value), optionalString(args, 0, "chars"),
                    true, true));
            case "upper" -> new Value.Str(PythonText.str(value).toUpperCase(Locale.ROOT));
            case "lower" -> new Value.Str(PythonText.str(value).toLowerCase(Locale.ROOT));
            case "capitalize" -> new Value.Str(Members.capitalize(PythonText.str(value)));
            case "title" -> new Value.Str(title(PythonText.str(value)));
            case "replace" -> {
                Value old = args.required(0, "old", name);
                Value replacement = args.required(1, "new", name);
                Long count = Operators.toLong(args.get(2, "count", new Value.Int(-1)));
                yield new Value.Str(Members.replace(PythonText.str(value), PythonText.str(old),
                        PythonText.str(replacement), count == null ? -1 : count, budget));
            }
            case "length", "count" -> new Value.Int(Operators.length(value));
            case "wordcount" -> {
                Matcher m = WORD.matcher(PythonText.str(value));
                long words = 0;
                while (m.find()) {
                    words++;
                }
                yield new Value.Int(words);
            }
            case "escape", "e", "forceescape" -> new Value.Str(escape(PythonText.str(value)));
            case "tojson" -> toJson(value, args);
            case "int" -> toInt(value, args);
            case "float" -> toFloat(value, args);
            case "abs" -> switch (value) {
                case Value.Int i -> i.value() == Long.MIN_VALUE ? Operators.negate(i) : new Value.Int(Math.abs(i.value()));
                case Value.Real r -> new Value.Real(Math.abs(r.value()));
                case Value.Bool b -> new Value.Int(b.value() ? 1 : 0);
                default -> throw new TemplateException("bad operand type for abs(): '" + Operators.typeName(value) + "'");
            };
            case "round" -> round(value, args);
            case "default", "d" -> {
                boolean useFalsy = Operators.truthy(args.get(1, "boolean", Value.Bool.FALSE));
                boolean missing = value instanceof Value.Undefined || (useFalsy && !Operators.truthy(value));
                yield missing ? args.get(0, "default_value", Value.Str.EMPTY) : value;
            }
            case "first" -> {
                List<Value> items = Operators.iterate(value, budget);
                yield items.isEmpty() ? new Value.Undefined("No first item, sequence was empty.") : items.getFirst();
            }
            case "last" -> {
                List<Value> items = Operators.iterate(value, budget);
                yield items.isEmpty() ? new Value.Undefined("No last item, sequence was empty.") : items.getLast();
            }
            case "list" -> new Value.Seq(List.copyOf(Operators.iterate(value, budget)), false);
            case "reverse" -> {
                if (value instanceof Value.Str s) {
                    yield new Value.Str(new StringBuilder(s.value()).reverse().toString());
                }
                List<Value> items = new ArrayList<>(Operators.iterate(value, budget));
                Collections.reverse(items);
                yield new Value.Seq(Collections.unmodifiableList(items), false);
            }
            case "items" -> {
                if (value instanceof Value.Undefined) {
                    yield new Value.Seq(List.of(), false);
                }
                if (!(value instanceof Value.Dict dict)) {
                    throw new TemplateException("items filter needs a mapping, got " + Operators.typeName(value));
                }
                yield Members.attribute(dict, "items", budget) instanceof Value.Callable c ? c.function().call(Arguments.NONE)
                        : Value.None.INSTANCE;
            }
            case "join" -> join(value, args, budget);
            case "attr" -> {
                String attribute = PythonText.str(args.required(0, "name", name));
                yield Members.attribute(value, attribute, budget);
            }
            case "map" -> map(value, args, budget);
            case "select", "reject" -> select(value, args, budget, name.equals("select"), false);
            case "selectattr", "rejectattr" -> select(value, args, budget, name.equals("selectattr"), true);
            case "unique" -> unique(value, args, budget);
            case "sort" -> sort(value, args, budget);
            case "dictsort" -> dictSort(value, args, budget);
            case "min", "max" -> {
                List<Value> items = sorted(Operators.iterate(value, budget), args, 0, 1, false, budget);
                if (items.isEmpty()) {
                    yield new Value.Undefined("No aggregated item, sequence was empty.");
                }
                yield name.equals("min") ? items.getFirst() : items.getLast();
            }
            case "sum" -> {
                Value total = args.get(1, "start", new Value.Int(0));
                Value attribute = args.get(0, "attribute", Value.None.INSTANCE);
                for (Value item : Operators.iterate(value, budget)) {
                    budget.step();
                    Value term = attribute instanceof Value.None ? item : lookupPath(item, attribute, budget);
                    total = Operators.binary("+", total, term, budget);
                }
                yield total;
            }
            case "indent" -> new Value.Str(indent(PythonText.str(value), args));
            case "center" -> {
                Long width = Operators.toLong(args.get(0, "width", new Value.Int(80)));
                yield Members.attribute(new Value.Str(PythonText.str(value)), "center", budget) instanceof Value.Callable c
                        ? c.function().call(Arguments.of(new Value.Int(width == null ? 80 : width))) : value;
            }
            default -> throw new TemplateException("no filter named '" + name + "'");
        };
    }

    private static String optionalString(Arguments args, int index, String name) {
        Value value = args.get(index, name, Value.None.INSTANCE);
        return value instanceof Value.None ? null : PythonText.str(value);
    }

    /** jinja2's do_title: upper-case the first letter of each word, where words follow - ( [ { < or spaces. */
    private static String title(String s) {
        StringBuilder out = new StringBuilder();
        Matcher m = WORD_BEGINNING.matcher(s);
        int last = 0;
        while (m.find()) {
            titleWord(s.substring(last, m.start()), out);
            titleWord(m.group(), out);
            last = m.end();
        }
        titleWord(s.substring(last), out);
        return out.toString();
    }

    private static void titleWord(String item, StringBuilder out) {
        if (!item.isEmpty()) {
            int first = item.codePointAt(0);
            out.append(Character.toString(first).toUpperCase(Locale.ROOT))
                    .append(item.substring(Character.charCount(first)).toLowerCase(Locale.ROOT));
        }
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&#34;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** transformers: {@code tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    private static Value toJson(Value value, Arguments args) {
        boolean ensureAscii = Operators.truthy(args.get(0, "ensure_ascii", Value.Bool.FALSE));
        Value indentArg = args.get(1, "indent", Value.None.INSTANCE);
        String indent = switch (indentArg) {
            case Value.None n -> null;
            case Value.Str s -> s.value();
            default -> {
                Long n = Operators.toLong(indentArg);
                if (n == null || n > 64) {
                    throw new TemplateException("tojson: indent must be an integer up to 64 or a string");
                }
                yield " ".repeat((int) Math.max(0, n));
            }
        };
        Value separatorsArg = args.get(2, "separators", Value.None.INSTANCE);
        String[] separators = null;
        if (separatorsArg instanceof Value.Seq seq && seq.items().size() == 2) {
            separators = new String[] {PythonText.str(seq.items().get(0)), PythonText.str(seq.items().get(1))};
        } else if (!(separatorsArg instanceof Value.None)) {
            throw new TemplateException("tojson: separators must be an (item_separator, key_separator) pair");
        }
        boolean sortKeys = Operators.truthy(args.get(3, "sort_keys", Value.Bool.FALSE));
        return new Value.Str(JsonText.dumps(value, indent, separators, sortKeys, ensureAscii));
    }

    private static Value toInt(Value value, Arguments args) {
        Value fallback = args.get(0, "default", new Value.Int(0));
        return switch (value) {
            case Value.Int i -> i;
            case Value.Bool b -> new Value.Int(b.value() ? 1 : 0);
            case Value.Real r -> Double.isFinite(r.value()) ? new Value.Int((long) r.value()) : fallback;
            case Value.Str s -> {
                String text = PythonText.strip(s.value()).replace("_", "");
                try {
                    Long base = Operators.toLong(args.get(1, "base", new Value.Int(10)));
                    yield new Value.Int(Long.parseLong(text, base == null ? 10 : base.intValue()));
                } catch (NumberFormatException e) {
                    try {
                        yield new Value.Int((long) Double.parseDouble(text));
                    } catch (NumberFormatException e2) {
                        yield fallback;
                    }
                }
            }
            default -> fallback;
        };
    }

    private static Value toFloat(Value value, Arguments args) {
        Value fallback = args.get(0, "default", new Value.Real(0.0));
        return switch (value) {
            case Value.Int i -> new Value.Real(i.value());
            case Value.Real r -> r;
            case Value.Bool b -> new Value.Real(b.value() ? 1 : 0);
            case Value.Str s -> {
                try {
                    String text = PythonText.strip(s.value());
                    if (!text.matches("[+-]?(\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)([eE][+-]?\\d+)?|[+-]?(inf|infinity|nan)")) {
                        yield fallback;
                    }
                    yield new Value.Real(switch (text.toLowerCase(Locale.ROOT).replace("+", "")) {
                        case "inf", "infinity" -> Double.POSITIVE_INFINITY;
                        case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
                        case "nan", "-nan" -> Double.NaN;
                        default -> Double.parseDouble(text.replace("_", ""));
                    });
                } catch (NumberFormatException e) {
                    yield fallback;
                }
            }
            default -> fallback;
        };
    }

    /** jinja2's do_round: always returns a float; 'common' rounds half to even like Python's round(). */
    private static Value round(Value value, Arguments args) {
        double x = Operators.toDouble(value);
        Long precision = Operators.toLong(args.get(0, "precision", new Value.Int(0)));
        String method = PythonText.str(args.get(1, "method", new Value.Str("common")));
        int digits = precision == null ? 0 : (int) Math.max(-308, Math.min(308, precision));
        if (!Double.isFinite(x)) {
            return new Value.Real(x);
        }
        return new Value.Real(switch (method) {
            case "common" -> new BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).doubleValue();
            case "ceil" -> Math.ceil(x * Math.pow(10, digits)) / Math.pow(10, digits);
            case "floor" -> Math.floor(x * Math.pow(10, digits)) / Math.pow(10, digits);
            default -> throw new TemplateException("method must be common, ceil or floor");
        });
    }

    private static Value join(Value value, Arguments args, Budget budget) {
        String separator = PythonText.str(args.get(0, "d", Value.Str.EMPTY));
        Value attribute = args.get(1, "attribute", Value.None.INSTANCE);
        StringBuilder out = new StringBuilder();
        boolean first = true;
        for (Value item : Operators.iterate(value, budget)) {
            budget.step();
            if (!first) {
                out.append(separator);
            }
            first = false;
            out.append(PythonText.str(attribute instanceof Value.None ? item : lookupPath(item, attribute, budget)));
            budget.checkString(out.length());
        }
        return new Value.Str(out.toString());
    }

    /** jinja2's make_attrgetter: a dotted path whose integer parts index sequences. */
    static Value lookupPath(Value item, Value path, Budget budget) {
        if (!(path instanceof Value.Str s)) {
            return Members.item(item, path, budget);
        }
        Value current = item;
        for (String part : s.value().split("\\.", -1)) {
            Value key = part.matches("\\d+") ? new Value.Int(Long.parseLong(part)) : new Value.Str(part);
            current = Members.item(current, key, budget);
        }
        return current;
    }

    private static Value map(Value value, Arguments args, Budget budget) {
        List<Value> result = new ArrayList<>();
        List<Value> items = Operators.iterate(value, budget);
        if (args.positional().isEmpty() && args.keyword().containsKey("attribute")) {
            Value attribute = args.keyword().get("attribute");
            Value fallback = args.keyword().get("default");
            for (Value item : items) {
                budget.step();
                Value mapped = lookupPath(item, attribute, budget);
                result.add(mapped instanceof Value.Undefined && fallback != null ? fallback : mapped);
            }
        } else {
            if (args.positional().isEmpty()) {
                throw new TemplateException("map() needs a filter name or attribute=");
            }
            String filter = PythonText.str(args.positional().getFirst());
            Arguments rest = new Arguments(args.positional().subList(1, args.size()), args.keyword());
            for (Value item : items) {
                budget.step();
                result.add(apply(filter, item, rest, budget));
            }
        }
        return new Value.Seq(Collections.unmodifiableList(result), false);
    }

    private static Value select(Value value, Arguments args, Budget budget, boolean keep, boolean byAttribute) {
        List<Value> positional = args.positional();
        int testIndex = byAttribute ? 1 : 0;
        if (byAttribute && positional.isEmpty()) {
            throw new TemplateException("selectattr/rejectattr need an attribute name");
        }
        String test = positional.size() > testIndex ? PythonText.str(positional.get(testIndex)) : null;
        List<Value> testArgs = positional.size() > testIndex + 1 ? positional.subList(testIndex + 1, positional.size())
                : List.of();
        List<Value> result = new ArrayList<>();
        for (Value item : Operators.iterate(value, budget)) {
            budget.step();
            Value subject = byAttribute ? lookupPath(item, positional.getFirst(), budget) : item;
            boolean passes = test == null ? Operators.truthy(subject) : Tests.apply(test, subject, testArgs, budget);
            if (passes == keep) {
                result.add(item);
            }
        }
        return new Value.Seq(Collections.unmodifiableList(result), false);
    }

    /** Sort key per jinja2: optional attribute path, and strings lower-cased unless case_sensitive. */
    private static Value sortKey(Value item, Value attribute, boolean caseSensitive, Budget budget) {
        Value key = attribute instanceof Value.None ? item : lookupPath(item, attribute, budget);
        if (!caseSensitive && key instanceof Value.Str s) {
            return new Value.Str(s.value().toLowerCase(Locale.ROOT));
        }
        return key;
    }

    /** Items sorted by the case_sensitive/attribute arguments found at the given positions. */
    private static List<Value> sorted(List<Value> items, Arguments args, int caseIndex, int attributeIndex,
                                      boolean reverse, Budget budget) {
        boolean caseSensitive = Operators.truthy(args.get(caseIndex, "case_sensitive", Value.Bool.FALSE));
        Value attribute = args.get(attributeIndex, "attribute", Value.None.INSTANCE);
        budget.charge(items.size() * 8L);
        List<Value> result = new ArrayList<>(items);
        Comparator<Value> order = Comparator.comparing((Value v) -> sortKey(v, attribute, caseSensitive, budget),
                Operators::compare);
        result.sort(reverse ? order.reversed() : order); // List.sort is stable, as Python's sorted is
        return result;
    }

    private static Value sort(Value value, Arguments args, Budget budget) {
        boolean reverse = Operators.truthy(args.get(0, "reverse", Value.Bool.FALSE));
        List<Value> result = sorted(Operators.iterate(value, budget), args, 1, 2, reverse, budget);
        return new Value.Seq(Collections.unmodifiableList(result), false);
    }

    private static Value unique(Value value, Arguments args, Budget budget) {
        boolean caseSensitive = Operators.truthy(args.get(0, "case_sensitive", Value.Bool.FALSE));
        Value attribute = args.get(1, "attribute", Value.None.INSTANCE);
        List<Value> result = new ArrayList<>();
        List<Value> seen = new ArrayList<>();
        for (Value item : Operators.iterate(value, budget)) {
            Value key = sortKey(item, attribute, caseSensitive, budget);
            budget.charge(seen.size() + 1L);
            if (seen.stream().noneMatch(k -> Operators.equal(k, key))) {
                seen.add(key);
                result.add(item);
            }
        }
        return new Value.Seq(Collections.unmodifiableList(result), false);
    }

    private static Value dictSort(Value value, Arguments args, Budget budget) {
        if (!(value instanceof Value.Dict dict)) {
            throw new TemplateException("dictsort needs a mapping, got " + Operators.typeName(value));
        }
        boolean caseSensitive = Operators.truthy(args.get(0, "case_sensitive", Value.Bool.FALSE));
        String by = PythonText.str(args.get(1, "by", new Value.Str("key")));
        boolean reverse = Operators.truthy(args.get(2, "reverse", Value.Bool.FALSE));
        int position = switch (by) {
            case "key" -> 0;
            case "value" -> 1;
            default -> throw new TemplateException("You can only sort by either 'key' or 'value'");
        };
        budget.charge(dict.entries().size() * 8L);
        List<Value> items = new ArrayList<>();
        for (Map.Entry<String, Value> entry : new LinkedHashMap<>(dict.entries()).entrySet()) {
            items.add(Value.Seq.tuple(new Value.Str(entry.getKey()), entry.getValue()));
        }
        Comparator<Value> order = Comparator.comparing(
                (Value v) -> sortKey(((Value.Seq) v).items().get(position), Value.None.INSTANCE, caseSensitive, budget),
                Operators::compare);
        items.sort(reverse ? order.reversed() : order);
        return new Value.Seq(Collections.unmodifiableList(items), false);
    }

    /** jinja2's do_indent (3.x): indents every line but the first, blank lines only when asked. */
    private static String indent(String s, Arguments args) {
        Value width = args.get(0, "width", new Value.Int(4));
        String indention = width instanceof Value.Str w ? w.value()
                : " ".repeat((int) Math.max(0, Math.min(1024, Operators.toLong(width) == null ? 4 : Operators.toLong(width))));
        boolean first = Operators.truthy(args.get(1, "first", Value.Bool.FALSE));
        boolean blank = Operators.truthy(args.get(2, "blank", Value.Bool.FALSE));
        List<String> lines = PythonText.splitLines(s + "\n");
        StringBuilder out = new StringBuilder();
        if (blank) {
            out.append(String.join("\n" + indention, lines));
        } else {
            out.append(lines.isEmpty() ? "" : lines.getFirst());
            for (int i = 1; i < lines.size(); i++) {
                out.append('\n');
                if (!lines.get(i).isEmpty()) {
                    out.append(indention);
                }
                out.append(lines.get(i));
            }
        }
        return first ? indention + out : out.toString();
    }
}
