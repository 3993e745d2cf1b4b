package dev.isthmus.core.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.core.tensor.ValueLayouts;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parses and validates the safetensors header (8-byte length, then JSON). */
final class SafetensorsHeader {
    /** The reference implementation's cap on header size. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(16).maxNumberLength(32).maxStringLength((int) MAX_HEADER_BYTES).build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build());

    record Parsed(Map<String, String> metadata, List<SafetensorsTensorInfo> tensors, long dataOffset) {
    }

    private SafetensorsHeader() {
    }

    static Parsed parse(MemorySegment data) {
        long size = data.byteSize();
        if (size < 8) {
            throw new SafetensorsFormatException("header length", 0, "file has " + size + " bytes, needs at least 8");
        }
        long n = data.get(ValueLayouts.I64, 0);
        if (n < 2 || n > MAX_HEADER_BYTES || n > size - 8) {
            throw new SafetensorsFormatException("header length", 0, "header of " + Long.toUnsignedString(n)
                    + " bytes does not fit (file has " + size + " bytes, limit " + MAX_HEADER_BYTES + ")");
        }
        byte[] json = new byte[(int) n];
        MemorySegment.copy(data, ValueLayouts.I8, 8, json, 0, json.length);
        if (json[0] != '{') {
            throw new SafetensorsFormatException("header", 8, "must start with '{'");
        }
        JsonNode root;
        try (JsonParser parser = JSON.createParser(json)) {
            root = JSON.readTree(parser);
            if (parser.nextToken() != null) {
                throw new SafetensorsFormatException("header", 8 + parser.currentLocation().getByteOffset(),
                        "trailing content after the JSON object");
            }
        } catch (JsonProcessingException e) {
            long at = e.getLocation() == null ? 8 : 8 + Math.max(0, e.getLocation().getByteOffset());
            throw new SafetensorsFormatException("header", at, "invalid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new SafetensorsFormatException("header", 8, "unreadable JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof ObjectNode object)) {
            throw new SafetensorsFormatException("header", 8, "must be a JSON object");
        }
        long dataOffset = 8 + n;
        long dataSize = size - dataOffset;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<SafetensorsTensorInfo> tensors = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                readMetadata(e.getValue(), metadata);
            } else {
                tensors.add(readTensor(e.getKey(), e.getValue(), dataSize));
            }
        }
        checkOverlaps(tensors, dataOffset);
        return new Parsed(metadata, List.copyOf(tensors), dataOffset);
    }

    private static void readMetadata(JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException("__metadata__", 8, "must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new SafetensorsFormatException("__metadata__." + e.getKey(), 8, "must be a string");
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static SafetensorsTensorInfo readTensor(String name, JsonNode node, long dataSize) {
        String field = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsFormatException(field, 8, "must be an object with dtype, shape, data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsFormatException(field + " dtype", 8, "missing or not a string");
        }
        SafetensorsDType dtype;
        try {
            dtype = SafetensorsDType.valueOf(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw new SafetensorsFormatException(field + " dtype", 8, "unknown dtype '" + dtypeNode.textValue() + "'");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray() || shapeNode.size() > 8) {
            throw new SafetensorsFormatException(field + " shape", 8, "missing, not an array, or more than 8 dims");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(shapeNode.get(i), field + " shape[" + i + "]");
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw new SafetensorsFormatException(field + " shape", 8, "element count overflows 64 bits");
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw new SafetensorsFormatException(field + " data_offsets", 8, "must be [begin, end]");
        }
        long begin = nonNegativeLong(offsets.get(0), field + " data_offsets[0]");
        long end = nonNegativeLong(offsets.get(1), field + " data_offsets[1]");
        if (begin > end || end > dataSize) {
            throw new SafetensorsFormatException(field + " data_offsets", 8, "[" + begin + ", " + end
                    + "] is not a range inside the " + dataSize + " data bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(elements, (long) dtype.size());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(field + " shape", 8, "byte size overflows 64 bits");
        }
        if (end - begin != expected) {
            throw new SafetensorsFormatException(field + " data_offsets", 8, "range holds " + (end - begin)
                    + " bytes but " + dtype + " of shape " + java.util.Arrays.toString(shape) + " needs " + expected);
        }
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long nonNegativeLong(JsonNode node, String field) {
        if (node == null || !node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 0) {
            throw new SafetensorsFormatException(field, 8, "must be a non-negative 64-bit integer, found " + node);
        }
        return node.longValue();
    }

    private static void checkOverlaps(List<SafetensorsTensorInfo> tensors, long dataOffset) {
        List<SafetensorsTensorInfo> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingLong(SafetensorsTensorInfo::begin));
        long previousEnd = 0;
        String previous = null;
        for (SafetensorsTensorInfo t : sorted) {
            if (t.byteSize() > 0 && t.begin() < previousEnd) {
                throw new SafetensorsFormatException("tensor '" + t.name() + "' data_offsets", dataOffset + t.begin(),
                        "overlaps tensor '" + previous + "'");
            }
            if (t.byteSize() > 0) {
                previousEnd = t.end();
                previous = t.name();
            }
        }
    }
}
