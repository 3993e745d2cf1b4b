package dev.isthmus.tokenizers.template;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Attribute access, subscripts, slices and the Python methods a template may call on strings, dicts and
 * lists. Like transformers' ImmutableSandboxedEnvironment, names starting with '_' and mutating methods
 * ({@code list.append}, {@code dict.update}, ...) are unsafe: they yield an undefined that fails when used.
 */
final class Members {

    private static final Set<String> STRING_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit",
            "splitlines", "startswith", "endswith", "upper", "lower", "replace", "title", "capitalize", "format",
            "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower",
            "removeprefix", "removesuffix", "swapcase", "zfill", "center", "index");
    private static final Set<String> DICT_METHODS = Set.of("items", "keys", "values", "get", "copy");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    private static final Set<String> UNSAFE_METHODS = Set.of("append", "extend", "insert", "pop", "remove",
            "clear", "sort", "reverse", "update", "setdefault", "popitem");

    private Members() {}

    /** {@code obj.name}: a method first, then an item, as Jinja's getattr does. */
    static Value attribute(Value object, String name, Budget budget) {
        if (object instanceof Value.Undefined u) {
            throw new TemplateException(u.reason());
        }
        // Python objects carry dunder attributes (__class__, __init__, ...): the sandbox's way out, so refused.
        // Other '_' names are not attributes of a dict, so Jinja falls back to the key, as below.
        if (name.startsWith("__")) {
            return unsafe(object, name);
        }
        if (name.startsWith("_") && !(object instanceof Value.Dict)) {
            return unsafe(object, name);
        }
        return switch (object) {
            case Value.Dict dict -> {
                if (DICT_METHODS.contains(name)) {
                    yield method(object, name, budget);
                }
                if (UNSAFE_METHODS.contains(name)) {
                    yield unsafe(object, name);
                }
                Value value = dict.entries().get(name);
                yield value != null ? value : noAttribute(object, name);
            }
            case Value.Str s -> STRING_METHODS.contains(name) ? method(object, name, budget) : noAttribute(object, name);
            case Value.Seq seq -> LIST_METHODS.contains(name) ? method(object, name, budget)
                    : UNSAFE_METHODS.contains(name) ? unsafe(object, name) : noAttribute(object, name);
            case Value.Namespace ns -> {
                Value value = ns.attributes().get(name);
                yield value != null ? value : noAttribute(object, name);
            }
            case Value.Loop loop -> loopAttribute(loop, name);
            default -> noAttribute(object, name);
        };
    }

    /** {@code obj[key]}: an item first, then an attribute, as Jinja's getitem does. */
    static Value item(Value object, Value key, Budget budget) {
        if (object instanceof Value.Undefined u) {
            throw new TemplateException(u.reason());
        }
        switch (object) {
            case Value.Dict dict when key instanceof Value.Str s -> {
                Value value = dict.entries().get(s.value());
                if (value != null) {
                    return value;
                }
            }
            case Value.Seq seq when Operators.toLong(key) != null -> {
                long index = normalise(Operators.toLong(key), seq.items().size());
                return index < 0 ? new Value.Undefined(seq.tuple() ? "tuple index out of range"
                        : "list index out of range") : seq.items().get((int) index);
            }
            case Value.Str s when Operators.toLong(key) != null -> {
                String text = s.value();
                int count = text.codePointCount(0, text.length());
                long index = normalise(Operators.toLong(key), count);
                if (index < 0) {
                    return new Value.Undefined("string index out of range");
                }
                int at = text.offsetByCodePoints(0, (int) index);
                return new Value.Str(Character.toString(text.codePointAt(at)));
            }
            case Value.Range range when Operators.toLong(key) != null -> {
                long index = normalise(Operators.toLong(key), range.size());
                return index < 0 ? new Value.Undefined("range object index out of range") : new Value.Int(range.get(index));
            }
            default -> { }
        }
        if (key instanceof Value.Str s) {
            return attribute(object, s.value(), budget);
        }
        return new Value.Undefined("'" + Operators.typeName(object) + " object' has no element "
                + PythonText.repr(key));
    }

    /** A Python index into a sequence of {@code size}, or -1 when out of range. */
    private static long normalise(long index, long size) {
        long i = index < 0 ? index + size : index;
        return i < 0 || i >= size ? -1 : i;
    }

    /** {@code obj[start:stop:step]} with Python's clamping rules (slice.indices). */
    static Value slice(Value object, Value start, Value stop, Value step, Budget budget) {
        if (object instanceof Value.Undefined u) {
            throw new TemplateException(u.reason());
        }
        long stepValue = step == null || step instanceof Value.None ? 1 : sliceIndex(step);
        if (stepValue == 0) {
            throw new TemplateException("slice step cannot be zero");
        }
        return switch (object) {
            case Value.Str s -> {
                int[] codePoints = s.value().codePoints().toArray();
                StringBuilder out = new StringBuilder();
                for (long i : indices(codePoints.length, start, stop, stepValue, budget)) {
                    out.appendCodePoint(codePoints[(int) i]);
                }
                yield new Value.Str(out.toString());
            }
            case Value.Seq seq -> {
                List<Value> items = new ArrayList<>();
                for (long i : indices(seq.items().size(), start, stop, stepValue, budget)) {
                    items.add(seq.items().get((int) i));
                }
                yield new Value.Seq(Collections.unmodifiableList(items), seq.tuple());
            }
            case Value.Range range -> {
                List<Value> items = new ArrayList<>();
                for (long i : indices(range.size(), start, stop, stepValue, budget)) {
                    items.add(new Value.Int(range.get(i)));
                }
                yield new Value.Seq(Collections.unmodifiableList(items), false);
            }
            default -> throw new TemplateException("'" + Operators.typeName(object) + "' object is not subscriptable");
        };
    }

    private static long sliceIndex(Value value) {
        Long index = Operators.toLong(value);
        if (index == null) {
            throw new TemplateException("slice indices must be integers or None, not " + Operators.typeName(value));
        }
        return index;
    }

    private static List<Long> indices(long length, Value start, Value stop, long step, Budget budget) {
        long lower = step > 0 ? 0 : -1;
        long upper = step > 0 ? length : length - 1;
        long from = bound(start, step > 0 ? lower : upper, length, lower, upper);
        long to = bound(stop, step > 0 ? upper : lower, length, lower, upper);
        List<Long> result = new ArrayList<>();
        for (long i = from; step > 0 ? i < to : i > to; i += step) {
            budget.step();
            result.add(i);
        }
        return result;
    }

    private static long bound(Value value, long fallback, long length, long lower, long upper) {
        if (value == null || value instanceof Value.None) {
            return fallback;
        }
        long index = sliceIndex(value);
        if (index < 0) {
            return Math.max(index + length, lower);
        }
        return Math.min(index, upper);
    }

    private static Value loopAttribute(Value.Loop loop, String name) {
        return switch (name) {
            case "index" -> new Value.Int(loop.index0() + 1);
            case "index0" -> new Value.Int(loop.index0());
            case "revindex" -> new Value.Int(loop.length() - loop.index0());
            case "revindex0" -> new Value.Int(loop.length() - loop.index0() - 1);
            case "first" -> Value.Bool.of(loop.index0() == 0);
            case "last" -> Value.Bool.of(loop.index0() == loop.length() - 1);
            case "length" -> new Value.Int(loop.length());
            case "previtem" -> loop.previous();
            case "nextitem" -> loop.next();
            case "depth" -> new Value.Int(1);
            case "depth0" -> new Value.Int(0);
            case "cycle" -> new Value.Callable("cycle", args -> {
                if (args.size() == 0) {
                    throw new TemplateException("no items for cycling given");
                }
                return args.positional().get((int) (loop.index0() % args.size()));
            });
            default -> new Value.Undefined("'LoopContext' object has no attribute '" + name + "'");
        };
    }

    private static Value noAttribute(Value object, String name) {
        return new Value.Undefined("'" + Operators.typeName(object) + " object' has no attribute '" + name + "'");
    }

    private static Value unsafe(Value object, String name) {
        return new Value.Undefined("access to attribute '" + name + "' of '" + Operators.typeName(object)
                + "' object is unsafe");
    }

    private static Value method(Value receiver, String name, Budget budget) {
        return new Value.Callable(name, args -> invoke(receiver, name, args, budget));
    }

    private static Value invoke(Value receiver, String name, Arguments args, Budget budget) {
        return switch (receiver) {
            case Value.Str s -> stringMethod(s.value(), name, args, budget);
            case Value.Dict d -> dictMethod(d, name, args, budget);
            case Value.Seq seq -> listMethod(seq, name, args, budget);
            default -> throw new IllegalStateException(name);
        };
    }

    private static Value dictMethod(Value.Dict dict, String name, Arguments args, Budget budget) {
        budget.charge(dict.entries().size());
        return switch (name) {
            case "items" -> {
                List<Value> items = new ArrayList<>(dict.entries().size());
                dict.entries().forEach((k, v) -> items.add(Value.Seq.tuple(new Value.Str(k), v)));
                yield new Value.Seq(Collections.unmodifiableList(items), false);
            }
            case "keys" -> new Value.Seq(Operators.iterate(dict, budget), false);
            case "values" -> new Value.Seq(List.copyOf(dict.entries().values()), false);
            case "get" -> {
                Value key = args.required(0, "key", "get");
                Value value = key instanceof Value.Str s ? dict.entries().get(s.value()) : null;
                yield value != null ? value : args.get(1, "default", Value.None.INSTANCE);
            }
            case "copy" -> dict;
            default -> throw new IllegalStateException(name);
        };
    }

    private static Value listMethod(Value.Seq seq, String name, Arguments args, Budget budget) {
        budget.charge(seq.items().size());
        return switch (name) {
            case "copy" -> seq;
            case "count" -> {
                Value item = args.required(0, "value", "count");
                yield new Value.Int(seq.items().stream().filter(v -> Operators.equal(v, item)).count());
            }
            case "index" -> {
                Value item = args.required(0, "value", "index");
                for (int i = 0; i < seq.items().size(); i++) {
                    if (Operators.equal(seq.items().get(i), item)) {
                        yield new Value.Int(i);
                    }
                }
                throw new TemplateException(PythonText.repr(item) + " is not in list");
            }
            default -> throw new IllegalStateException(name);
        };
    }

    private static String stringArg(Arguments args, int index, String name, String method, String fallback) {
        Value value = args.get(index, name, null);
        if (value == null || value instanceof Value.None) {
            return fallback;
        }
        if (value instanceof Value.Str s) {
            return s.value();
        }
        throw new TemplateException(method + "() argument must be str or None, not " + Operators.typeName(value));
    }

    private static long intArg(Arguments args, int index, String name, long fallback) {
        Value value = args.get(index, name, null);
        if (value == null || value instanceof Value.None) {
            return fallback;
        }
        Long n = Operators.toLong(value);
        if (n == null) {
            throw new TemplateException("'" + name + "' must be an integer, not " + Operators.typeName(value));
        }
        return n;
    }

    private static Value stringMethod(String s, String name, Arguments args, Budget budget) {
        budget.charge(s.length() / 64);
        return switch (name) {
            case "strip" -> new Value.Str(PythonText.strip(s, stringArg(args, 0, "chars", name, null), true, true));
            case "lstrip" -> new Value.Str(PythonText.strip(s, stringArg(args, 0, "chars", name, null), true, false));
            case "rstrip" -> new Value.Str(PythonText.strip(s, stringArg(args, 0, "chars", name, null), false, true));
            case "split" -> {
                String separator = stringArg(args, 0, "sep", name, null);
                long maxSplit = intArg(args, 1, "maxsplit", -1);
                yield strings(separator == null ? PythonText.splitWhitespace(s, maxSplit)
                        : PythonText.split(s, separator, maxSplit));
            }
            case "rsplit" -> {
                String separator = stringArg(args, 0, "sep", name, null);
                long maxSplit = intArg(args, 1, "maxsplit", -1);
                if (separator == null || maxSplit < 0) {
                    yield strings(separator == null ? PythonText.splitWhitespace(s, -1)
                            : PythonText.split(s, separator, -1));
                }
                List<String> parts = new ArrayList<>();
                int end = s.length();
                while (parts.size() < maxSplit) {
                    int at = s.lastIndexOf(separator, end - separator.length());
                    if (at < 0 || separator.isEmpty()) {
                        break;
                    }
                    parts.addFirst(s.substring(at + separator.length(), end));
                    end = at;
                }
                parts.addFirst(s.substring(0, end));
                yield strings(parts);
            }
            case "splitlines" -> strings(PythonText.splitLines(s));
            case "startswith", "endswith" -> {
                Value affix = args.required(0, "prefix", name);
                List<Value> options = affix instanceof Value.Seq seq ? seq.items() : List.of(affix);
                for (Value option : options) {
                    if (!(option instanceof Value.Str o)) {
                        throw new TemplateException(name + " first arg must be str or a tuple of str, not "
                                + Operators.typeName(option));
                    }
                    if (name.equals("startswith") ? s.startsWith(o.value()) : s.endsWith(o.value())) {
                        yield Value.Bool.TRUE;
                    }
                }
                yield Value.Bool.FALSE;
            }
            case "upper" -> new Value.Str(s.toUpperCase(Locale.ROOT));
            case "lower" -> new Value.Str(s.toLowerCase(Locale.ROOT));
            case "swapcase" -> {
                StringBuilder out = new StringBuilder();
                s.codePoints().forEach(cp -> out.appendCodePoint(Character.isUpperCase(cp) ? Character.toLowerCase(cp)
                        : Character.isLowerCase(cp) ? Character.toUpperCase(cp) : cp));
                yield new Value.Str(out.toString());
            }
            case "replace" -> new Value.Str(replace(s, stringArg(args, 0, "old", name, ""),
                    stringArg(args, 1, "new", name, ""), intArg(args, 2, "count", -1), budget));
            case "title" -> new Value.Str(pythonTitle(s));
            case "capitalize" -> new Value.Str(capitalize(s));
            case "format" -> new Value.Str(format(s, args));
            case "find", "rfind", "index" -> {
                String sub = stringArg(args, 0, "sub", name, "");
                int at = name.equals("rfind") ? s.lastIndexOf(sub) : s.indexOf(sub);
                if (at < 0 && name.equals("index")) {
                    throw new TemplateException("substring not found");
                }
                yield new Value.Int(at < 0 ? -1 : s.codePointCount(0, at));
            }
            case "count" -> {
                String sub = stringArg(args, 0, "sub", name, "");
                if (sub.isEmpty()) {
                    yield new Value.Int(s.codePointCount(0, s.length()) + 1);
                }
                long count = 0;
                for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
                    count++;
                }
                yield new Value.Int(count);
            }
            case "join" -> {
                List<Value> items = Operators.iterate(args.required(0, "iterable", name), budget);
                StringBuilder out = new StringBuilder();
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof Value.Str item)) {
                        throw new TemplateException("sequence item " + i + ": expected str instance, "
                                + Operators.typeName(items.get(i)) + " found");
                    }
                    if (i > 0) {
                        out.append(s);
                    }
                    out.append(item.value());
                    budget.checkString(out.length());
                }
                yield new Value.Str(out.toString());
            }
            case "isdigit" -> Value.Bool.of(!s.isEmpty() && s.codePoints().allMatch(Character::isDigit));
            case "isalpha" -> Value.Bool.of(!s.isEmpty() && s.codePoints().allMatch(Character::isLetter));
            case "isalnum" -> Value.Bool.of(!s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit));
            case "isspace" -> Value.Bool.of(!s.isEmpty() && s.chars().allMatch(c -> PythonText.isSpace((char) c)));
            case "isupper" -> Value.Bool.of(s.codePoints().anyMatch(Character::isUpperCase)
                    && s.codePoints().noneMatch(Character::isLowerCase));
            case "islower" -> Value.Bool.of(s.codePoints().anyMatch(Character::isLowerCase)
                    && s.codePoints().noneMatch(Character::isUpperCase));
            case "removeprefix" -> {
                String prefix = stringArg(args, 0, "prefix", name, "");
                yield new Value.Str(s.startsWith(prefix) ? s.substring(prefix.length()) : s);
            }
            case "removesuffix" -> {
                String suffix = stringArg(args, 0, "suffix", name, "");
                yield new Value.Str(!suffix.isEmpty() && s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s);
            }
            case "zfill", "center" -> {
                long width = intArg(args, 0, "width", 0);
                budget.checkString(width);
                int length = s.codePointCount(0, s.length());
                if (width <= length) {
                    yield new Value.Str(s);
                }
                int pad = (int) width - length;
                if (name.equals("center")) {
                    String fill = stringArg(args, 1, "fillchar", name, " ");
                    int left = pad / 2 + (pad & (int) width & 1); // CPython's centering rule
                    yield new Value.Str(fill.repeat(left) + s + fill.repeat(pad - left));
                }
                boolean sign = s.startsWith("+") || s.startsWith("-");
                yield new Value.Str(sign ? s.charAt(0) + "0".repeat(pad) + s.substring(1) : "0".repeat(pad) + s);
            }
            default -> throw new IllegalStateException(name);
        };
    }

    static Value strings(List<String> parts) {
        List<Value> values = new ArrayList<>(parts.size());
        for (String part : parts) {
            values.add(new Value.Str(part));
        }
        return new Value.Seq(Collections.unmodifiableList(values), false);
    }

    /** Python's {@code str.replace}; an empty {@code old} inserts {@code replacement} around every character. */
    static String replace(String s, String old, String replacement, long count, Budget budget) {
        if (count == 0) {
            return s;
        }
        StringBuilder out = new StringBuilder();
        long done = 0;
        if (old.isEmpty()) {
            int[] codePoints = s.codePoints().toArray();
            for (int cp : codePoints) {
                if (count < 0 || done < count) {
                    out.append(replacement);
                    done++;
                }
                out.appendCodePoint(cp);
                budget.checkString(out.length());
            }
            if (count < 0 || done < count) {
                out.append(replacement);
            }
            return out.toString();
        }
        int from = 0;
        for (int at = s.indexOf(old); at >= 0 && (count < 0 || done < count); at = s.indexOf(old, from)) {
            out.append(s, from, at).append(replacement);
            budget.checkString(out.length());
            from = at + old.length();
            done++;
        }
        return out.append(s, from, s.length()).toString();
    }

    /** Python's {@code str.capitalize}: first character upper case, the rest lower case. */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        return Character.toString(Character.toTitleCase(first))
                + s.substring(Character.charCount(first)).toLowerCase(Locale.ROOT);
    }

    /** Python's {@code str.title}: a cased character after an uncased one starts a word. */
    private static String pythonTitle(String s) {
        StringBuilder out = new StringBuilder();
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            boolean cased = Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
            out.appendCodePoint(cased ? (previousCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp)) : cp);
            previousCased = cased;
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    /** A subset of {@code str.format}: {@code {}}, {@code {0}}, {@code {name}} and doubled braces. */
    private static String format(String s, Arguments args) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{') {
                out.append('{');
                i++;
            } else if (c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') {
                out.append('}');
                i++;
            } else if (c == '{') {
                int end = s.indexOf('}', i);
                if (end < 0) {
                    throw new TemplateException("Single '{' encountered in format string");
                }
                String field = s.substring(i + 1, end);
                if (field.contains(":") || field.contains("!")) {
                    throw new TemplateException("format specs are not supported: {" + field + "}");
                }
                Value value;
                if (field.isEmpty()) {
                    value = args.get(auto++, "", null);
                } else if (field.chars().allMatch(Character::isDigit)) {
                    value = args.get(Integer.parseInt(field), "", null);
                } else {
                    value = args.keyword().get(field);
                }
                if (value == null) {
                    throw new TemplateException("format(): missing argument for {" + field + "}");
                }
                out.append(PythonText.str(value));
                i = end;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** A fresh mutable copy of a mapping, for namespace() and dict(). */
    static Map<String, Value> mutableCopy(Map<String, Value> entries) {
        return new LinkedHashMap<>(entries);
    }
}
