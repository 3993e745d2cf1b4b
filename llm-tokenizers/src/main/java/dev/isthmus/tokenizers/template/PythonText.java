package dev.isthmus.tokenizers.template;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's text behaviour where Java's differs: what counts as whitespace ({@code str.isspace}), how
 * {@code str()} and {@code repr()} print values, and float formatting ({@code repr(1e20) == '1e+20'}).
 */
final class PythonText {

    private PythonText() {}

    /** {@code str.isspace()} for one UTF-16 unit (all Python whitespace is in the BMP). */
    static boolean isSpace(char c) {
        return switch (c) {
            case ' ', '\t', '\n', '\r', '\u000b', '\u000c', '\u001c', '\u001d', '\u001e', '\u001f', '\u0085',
                 '\u00a0', '\u1680', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000' -> true;
            default -> c >= '\u2000' && c <= '\u200a';
        };
    }

    static String strip(String s) {
        return rstrip(lstrip(s));
    }

    static String lstrip(String s) {
        int start = 0;
        while (start < s.length() && isSpace(s.charAt(start))) {
            start++;
        }
        return s.substring(start);
    }

    static String rstrip(String s) {
        int end = s.length();
        while (end > 0 && isSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end);
    }

    /** {@code str.strip(chars)} family: {@code left}/{@code right} select the ends; null chars means whitespace. */
    static String strip(String s, String chars, boolean left, boolean right) {
        if (chars == null) {
            String result = left ? lstrip(s) : s;
            return right ? rstrip(result) : result;
        }
        int start = 0;
        int end = s.length();
        if (left) {
            while (start < end && chars.indexOf(s.codePointAt(start)) >= 0) {
                start += Character.charCount(s.codePointAt(start));
            }
        }
        if (right) {
            while (end > start && chars.indexOf(s.codePointBefore(end)) >= 0) {
                end -= Character.charCount(s.codePointBefore(end));
            }
        }
        return s.substring(start, end);
    }

    /** {@code str.split()} without a separator: runs of whitespace separate, empty parts are dropped. */
    static List<String> splitWhitespace(String s, long maxSplit) {
        List<String> parts = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (true) {
            while (i < n && isSpace(s.charAt(i))) {
                i++;
            }
            if (i >= n) {
                return parts;
            }
            if (maxSplit >= 0 && parts.size() >= maxSplit) {
                parts.add(rstrip(s.substring(i)));
                return parts;
            }
            int start = i;
            while (i < n && !isSpace(s.charAt(i))) {
                i++;
            }
            parts.add(s.substring(start, i));
        }
    }

    /** {@code str.split(sep, maxsplit)}. */
    static List<String> split(String s, String separator, long maxSplit) {
        if (separator.isEmpty()) {
            throw new TemplateException("split(): empty separator");
        }
        List<String> parts = new ArrayList<>();
        int start = 0;
        while (maxSplit < 0 || parts.size() < maxSplit) {
            int at = s.indexOf(separator, start);
            if (at < 0) {
                break;
            }
            parts.add(s.substring(start, at));
            start = at + separator.length();
        }
        parts.add(s.substring(start));
        return parts;
    }

    /** {@code str.splitlines()}: Python's line boundaries, ends dropped. */
    static List<String> splitLines(String s) {
        List<String> lines = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            boolean boundary = switch (c) {
                case '\n', '\r', '\u000b', '\u000c', '\u001c', '\u001d', '\u001e', '\u0085', '\u2028', '\u2029' -> true;
                default -> false;
            };
            if (!boundary) {
                i++;
                continue;
            }
            lines.add(s.substring(start, i));
            i += c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n' ? 2 : 1;
            start = i;
        }
        if (start < s.length()) {
            lines.add(s.substring(start));
        }
        return lines;
    }

    /** Python {@code str(value)}, which is what {@code {{ value }}} prints. */
    static String str(Value value) {
        return switch (value) {
            case Value.Str s -> s.value();
            case Value.Undefined u -> "";
            default -> repr(value);
        };
    }

    /** Python {@code repr(value)}: how values print inside lists and dicts. */
    static String repr(Value value) {
        StringBuilder out = new StringBuilder();
        repr(value, out, 0);
        return out.toString();
    }

    private static void repr(Value value, StringBuilder out, int depth) {
        if (depth > 200) {
            throw new TemplateException("value nested too deeply to print");
        }
        switch (value) {
            case Value.Str s -> quote(s.value(), out);
            case Value.Int i -> out.append(i.value());
            case Value.Real r -> out.append(formatFloat(r.value()));
            case Value.Bool b -> out.append(b.value() ? "True" : "False");
            case Value.None n -> out.append("None");
            case Value.Undefined u -> out.append("");
            case Value.Seq seq -> {
                out.append(seq.tuple() ? '(' : '[');
                for (int i = 0; i < seq.items().size(); i++) {
                    if (i > 0) {
                        out.append(", ");
                    }
                    repr(seq.items().get(i), out, depth + 1);
                }
                if (seq.tuple() && seq.items().size() == 1) {
                    out.append(',');
                }
                out.append(seq.tuple() ? ')' : ']');
            }
            case Value.Dict dict -> mapping(dict.entries(), out, depth);
            case Value.Namespace ns -> {
                out.append("<Namespace ");
                mapping(ns.attributes(), out, depth);
                out.append('>');
            }
            case Value.Range range -> {
                out.append("range(").append(range.start()).append(", ").append(range.stop());
                if (range.step() != 1) {
                    out.append(", ").append(range.step());
                }
                out.append(')');
            }
            case Value.Loop loop -> out.append("<LoopContext ").append(loop.index0() + 1).append('/')
                    .append(loop.length()).append('>');
            case Value.Callable callable -> out.append("<function ").append(callable.name()).append('>');
        }
    }

    private static void mapping(Map<String, Value> entries, StringBuilder out, int depth) {
        out.append('{');
        boolean first = true;
        for (Map.Entry<String, Value> entry : entries.entrySet()) {
            if (!first) {
                out.append(", ");
            }
            first = false;
            quote(entry.getKey(), out);
            out.append(": ");
            repr(entry.getValue(), out, depth + 1);
        }
        out.append('}');
    }

    /** Python's string repr: single quotes unless the text has one and no double quote. */
    private static void quote(String s, StringBuilder out) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        out.append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c == q) {
                        out.append('\\').append(c);
                    } else if (c < 0x20 || c == 0x7f) {
                        out.append(String.format("\\x%02x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append(q);
    }

    /** Python {@code repr(float)}: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String formatFloat(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        // Java's Double.toString gives the shortest round-trip digits (JDK 19+), as Python's repr does.
        BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = exact.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - exact.scale(); // decimal exponent of the first digit
        StringBuilder out = new StringBuilder(d < 0 ? "-" : "");
        if (exponent < -4 || exponent >= 16) {
            out.append(digits.charAt(0));
            if (digits.length() > 1) {
                out.append('.').append(digits, 1, digits.length());
            }
            out.append('e').append(exponent < 0 ? '-' : '+');
            int e = Math.abs(exponent);
            out.append(e < 10 ? "0" : "").append(e);
        } else if (exponent < 0) {
            out.append("0.").append("0".repeat(-exponent - 1)).append(digits);
        } else if (digits.length() <= exponent + 1) {
            out.append(digits).append("0".repeat(exponent + 1 - digits.length())).append(".0");
        } else {
            out.append(digits, 0, exponent + 1).append('.').append(digits, exponent + 1, digits.length());
        }
        return out.toString();
    }
}
