package dev.isthmus.tokenizers.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code tojson} filter as transformers defines it: {@code json.dumps(x, ensure_ascii=False, indent=indent,
 * separators=separators, sort_keys=sort_keys)} — unlike Jinja's built-in one it does not HTML-escape, and
 * Python's default separators are {@code ", "} and {@code ": "} ({@code ","} between items once indenting).
 */
final class JsonText {

    private final String indent;
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;
    private final boolean ensureAscii;
    private final StringBuilder out = new StringBuilder();

    private JsonText(String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        this.indent = indent;
        this.itemSeparator = itemSeparator;
        this.keySeparator = keySeparator;
        this.sortKeys = sortKeys;
        this.ensureAscii = ensureAscii;
    }

    /**
     * @param indent     null for one line, else the per-level indent (Python: an int n means n spaces)
     * @param separators null for Python's defaults, else {item, key}
     */
    static String dumps(Value value, String indent, String[] separators, boolean sortKeys, boolean ensureAscii) {
        String item = separators != null ? separators[0] : indent != null ? "," : ", ";
        String key = separators != null ? separators[1] : ": ";
        JsonText writer = new JsonText(indent, item, key, sortKeys, ensureAscii);
        writer.write(value, 0);
        return writer.out.toString();
    }

    private void write(Value value, int level) {
        if (level > 200) {
            throw new TemplateException("tojson: value nested too deeply");
        }
        switch (value) {
            case Value.None n -> out.append("null");
            case Value.Bool b -> out.append(b.value());
            case Value.Int i -> out.append(i.value());
            case Value.Real r -> out.append(Double.isNaN(r.value()) ? "NaN"
                    : Double.isInfinite(r.value()) ? (r.value() > 0 ? "Infinity" : "-Infinity")
                    : PythonText.formatFloat(r.value()));
            case Value.Str s -> string(s.value());
            case Value.Seq seq -> {
                if (seq.items().isEmpty()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                for (int i = 0; i < seq.items().size(); i++) {
                    if (i > 0) {
                        out.append(itemSeparator);
                    }
                    newline(level + 1);
                    write(seq.items().get(i), level + 1);
                }
                newline(level);
                out.append(']');
            }
            case Value.Dict dict -> {
                if (dict.entries().isEmpty()) {
                    out.append("{}");
                    return;
                }
                List<Map.Entry<String, Value>> entries = new ArrayList<>(dict.entries().entrySet());
                if (sortKeys) {
                    entries.sort(Map.Entry.comparingByKey());
                }
                out.append('{');
                for (int i = 0; i < entries.size(); i++) {
                    if (i > 0) {
                        out.append(itemSeparator);
                    }
                    newline(level + 1);
                    string(entries.get(i).getKey());
                    out.append(keySeparator);
                    write(entries.get(i).getValue(), level + 1);
                }
                newline(level);
                out.append('}');
            }
            default -> throw new TemplateException("Object of type " + Operators.typeName(value)
                    + " is not JSON serializable");
        }
    }

    private void newline(int level) {
        if (indent != null) {
            out.append('\n').append(indent.repeat(level));
        }
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
