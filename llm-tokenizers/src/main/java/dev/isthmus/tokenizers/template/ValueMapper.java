package dev.isthmus.tokenizers.template;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts the caller's JSON-like Java values into the template {@link Value} model. Only plain data passes
 * (strings, numbers, booleans, null, lists, maps with string keys, Jackson trees): anything else is refused,
 * so no Java object ever becomes reachable from a template.
 */
final class ValueMapper {

    private static final int MAX_NESTING = 512;

    private ValueMapper() {}

    static Value toValue(Object object) {
        return toValue(object, 0);
    }

    private static Value toValue(Object object, int depth) {
        if (depth > MAX_NESTING) {
            throw new IllegalArgumentException("template variable nested more than " + MAX_NESTING + " levels deep");
        }
        return switch (object) {
            case null -> Value.None.INSTANCE;
            case Value v -> v;
            case String s -> new Value.Str(s);
            case Character c -> new Value.Str(c.toString());
            case Boolean b -> Value.Bool.of(b);
            case Integer i -> new Value.Int(i);
            case Long l -> new Value.Int(l);
            case Short s -> new Value.Int(s);
            case Byte b -> new Value.Int(b);
            case BigInteger big -> new Value.Int(big.longValueExact());
            case Double d -> new Value.Real(d);
            case Float f -> new Value.Real(f);
            case BigDecimal big -> new Value.Real(big.doubleValue());
            case JsonNode node -> fromJson(node, depth);
            case Map<?, ?> map -> {
                Map<String, Value> entries = new LinkedHashMap<>();
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    if (!(entry.getKey() instanceof String key)) {
                        throw new IllegalArgumentException("template maps need string keys, got " + entry.getKey());
                    }
                    entries.put(key, toValue(entry.getValue(), depth + 1));
                }
                yield new Value.Dict(java.util.Collections.unmodifiableMap(entries));
            }
            case Collection<?> items -> {
                List<Value> values = new ArrayList<>(items.size());
                for (Object item : items) {
                    values.add(toValue(item, depth + 1));
                }
                yield new Value.Seq(java.util.Collections.unmodifiableList(values), false);
            }
            default -> throw new IllegalArgumentException("templates only see JSON-like values (String, Number, "
                    + "Boolean, null, List, Map, JsonNode), not " + object.getClass().getName());
        };
    }

    private static Value fromJson(JsonNode node, int depth) {
        if (depth > MAX_NESTING) {
            throw new IllegalArgumentException("JSON nested more than " + MAX_NESTING + " levels deep");
        }
        if (node == null || node.isNull() || node.isMissingNode()) {
            return Value.None.INSTANCE;
        }
        if (node.isTextual()) {
            return new Value.Str(node.textValue());
        }
        if (node.isBoolean()) {
            return Value.Bool.of(node.booleanValue());
        }
        if (node.isIntegralNumber()) {
            if (!node.canConvertToLong()) {
                throw new IllegalArgumentException("integer out of 64-bit range: " + node);
            }
            return new Value.Int(node.longValue());
        }
        if (node.isNumber()) {
            return new Value.Real(node.doubleValue());
        }
        if (node.isArray()) {
            List<Value> values = new ArrayList<>(node.size());
            for (JsonNode item : node) {
                values.add(fromJson(item, depth + 1));
            }
            return new Value.Seq(java.util.Collections.unmodifiableList(values), false);
        }
        if (node.isObject()) {
            Map<String, Value> entries = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                entries.put(field.getKey(), fromJson(field.getValue(), depth + 1));
            }
            return new Value.Dict(java.util.Collections.unmodifiableMap(entries));
        }
        throw new IllegalArgumentException("unsupported JSON node: " + node.getNodeType());
    }
}
