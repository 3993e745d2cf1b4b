package dev.isthmus.tokenizers.template;

import java.util.List;
import java.util.Map;

/** Positional and keyword arguments of a call, filter or test, with Python-style lookup by position or name. */
record Arguments(List<Value> positional, Map<String, Value> keyword) {

    static final Arguments NONE = new Arguments(List.of(), Map.of());

    static Arguments of(Value... positional) {
        return new Arguments(List.of(positional), Map.of());
    }

    int size() {
        return positional.size();
    }

    /** The argument at {@code index}, else the one named {@code name}, else {@code fallback}. */
    Value get(int index, String name, Value fallback) {
        if (index >= 0 && index < positional.size()) {
            return positional.get(index);
        }
        Value named = keyword.get(name);
        return named != null ? named : fallback;
    }

    /** Like {@link #get} but the argument is mandatory. */
    Value required(int index, String name, String function) {
        Value value = get(index, name, null);
        if (value == null) {
            throw new TemplateException(function + "() missing required argument '" + name + "'");
        }
        return value;
    }

    boolean has(int index, String name) {
        return index < positional.size() || keyword.containsKey(name);
    }
}
