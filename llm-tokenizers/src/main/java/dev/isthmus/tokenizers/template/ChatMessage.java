package dev.isthmus.tokenizers.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a conversation as a chat template sees it: a dict with {@code role}, {@code content} and any
 * other fields ({@code tool_calls}, {@code name}, {@code tool_call_id}, {@code reasoning_content}, ...).
 *
 * <pre>{@code
 * var messages = List.of(
 *         ChatMessage.system("You are terse."),
 *         ChatMessage.user("Weather in Paris?"),
 *         ChatMessage.assistant("").with("tool_calls", List.of(Map.of("function",
 *                 Map.of("name", "get_weather", "arguments", Map.of("city", "Paris"))))),
 *         ChatMessage.of("tool", "{\"temp\": 21}"));
 * }</pre>
 *
 * @param role    the speaker: {@code system}, {@code user}, {@code assistant}, {@code tool}, ...
 * @param content the text, or null for {@code None} (templates see the key with value none)
 * @param fields  further keys, JSON-like values only (String, Number, Boolean, null, List, Map, JsonNode); a
 *                {@code content} entry here replaces {@code content}, e.g. for a list of multimodal parts
 */
public record ChatMessage(String role, String content, Map<String, Object> fields) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(fields, "fields")));
    }

    public static ChatMessage of(String role, String content) {
        return new ChatMessage(role, content, Map.of());
    }

    public static ChatMessage system(String content) {
        return of("system", content);
    }

    public static ChatMessage user(String content) {
        return of("user", content);
    }

    public static ChatMessage assistant(String content) {
        return of("assistant", content);
    }

    /** This message with one more field, e.g. {@code with("tool_calls", calls)}. */
    public ChatMessage with(String key, Object value) {
        Map<String, Object> more = new LinkedHashMap<>(fields);
        more.put(key, value);
        return new ChatMessage(role, content, more);
    }

    /**
     * Messages from a JSON array in the OpenAI/transformers shape ({@code [{"role": ..., "content": ...}, ...]}).
     * Every key is kept as the template will see it.
     */
    public static List<ChatMessage> listFromJson(String json) {
        JsonNode array;
        try {
            array = JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("messages are not valid JSON: " + e.getMessage(), e);
        }
        if (array == null || !array.isArray()) {
            throw new IllegalArgumentException("messages JSON must be an array of objects");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode node : array) {
            if (!node.isObject() || !node.path("role").isTextual()) {
                throw new IllegalArgumentException("message " + messages.size() + " needs a string \"role\": " + node);
            }
            Map<String, Object> fields = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                if (!field.getKey().equals("role")) {
                    fields.put(field.getKey(), field.getValue());
                }
            }
            messages.add(new ChatMessage(node.get("role").textValue(), null, fields));
        }
        return messages;
    }

    /** The dict the template sees: role, content, then the other fields in order. */
    Value toValue() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("role", role);
        if (content != null || !fields.containsKey("content")) {
            map.put("content", content);
        }
        map.putAll(fields);
        return ValueMapper.toValue(map);
    }
}
