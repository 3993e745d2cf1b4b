package dev.isthmus.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;

/** Typed reads of {@code tokenizer.json} fields that fail with the field's path in the message. */
final class JsonFields {
    private JsonFields() {
    }

    static JsonNode object(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || !n.isObject()) {
            throw new TokenizerFormatException(path + "." + name + ": expected an object, found " + describe(n));
        }
        return n;
    }

    /** The field, or null when it is absent or JSON null. */
    static JsonNode optional(JsonNode parent, String name) {
        JsonNode n = parent.get(name);
        return n == null || n.isNull() ? null : n;
    }

    static JsonNode array(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || !n.isArray()) {
            throw new TokenizerFormatException(path + "." + name + ": expected an array, found " + describe(n));
        }
        return n;
    }

    static String string(JsonNode parent, String name, String path) {
        JsonNode n = parent.get(name);
        if (n == null || !n.isTextual()) {
            throw new TokenizerFormatException(path + "." + name + ": expected a string, found " + describe(n));
        }
        return n.textValue();
    }

    static String optionalString(JsonNode parent, String name, String path) {
        JsonNode n = optional(parent, name);
        if (n == null) {
            return null;
        }
        if (!n.isTextual()) {
            throw new TokenizerFormatException(path + "." + name + ": expected a string, found " + describe(n));
        }
        return n.textValue();
    }

    static boolean bool(JsonNode parent, String name, boolean fallback, String path) {
        JsonNode n = optional(parent, name);
        if (n == null) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new TokenizerFormatException(path + "." + name + ": expected true or false, found " + describe(n));
        }
        return n.booleanValue();
    }

    static int integer(JsonNode n, String path) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new TokenizerFormatException(path + ": expected an integer, found " + describe(n));
        }
        return n.intValue();
    }

    static String describe(JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        String text = n.toString();
        return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " "
                + (text.length() > 60 ? text.substring(0, 60) + "..." : text);
    }
}
