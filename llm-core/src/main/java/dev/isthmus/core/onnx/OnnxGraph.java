package dev.isthmus.core.onnx;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of an ONNX model an importer needs: initializers (weights, as views of the mapped file),
 * nodes (op, name, inputs, outputs) and the values of {@code Constant} nodes.
 *
 * <pre>{@code
 * try (OnnxGraph g = OnnxGraph.open(Path.of("model.onnx"))) {
 *     OnnxGraph.Initializer w = g.initializer("embeddings.word_embeddings.weight").orElseThrow();
 * }
 * }</pre>
 */
public final class OnnxGraph implements AutoCloseable {
    /** ONNX TensorProto data types Isthmus reads. */
    static final int FLOAT = 1;
    static final int INT64 = 7;

    /** A weight: dims as ONNX gives them (row-major) and its float values' bytes. */
    public record Initializer(String name, long[] dims, int dataType, MemorySegment data) {
        public long elementCount() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }

        /** The values as floats (FLOAT tensors only). */
        public float[] floats() {
            if (dataType != FLOAT) {
                throw new OnnxFormatException("initializer '" + name + "' has ONNX data type " + dataType
                        + "; the importer reads FLOAT (1) weights");
            }
            if (data.byteSize() != 4 * elementCount()) {
                throw new OnnxFormatException("initializer '" + name + "' holds " + data.byteSize() + " bytes for "
                        + elementCount() + " floats");
            }
            return data.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        }
    }

    /** A graph node. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs) {
    }

    private final Arena arena;
    private final Map<String, Initializer> initializers;
    private final List<Node> nodes;
    private final Map<String, double[]> constants;

    private OnnxGraph(Arena arena, Map<String, Initializer> initializers, List<Node> nodes, Map<String, double[]> constants) {
        this.arena = arena;
        this.initializers = initializers;
        this.nodes = nodes;
        this.constants = constants;
    }

    /**
     * Maps and parses an ONNX file.
     *
     * @throws OnnxFormatException if it is not a well-formed ONNX model
     */
    public static OnnxGraph open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return parse(arena, file);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static OnnxGraph parse(Arena arena, MemorySegment file) {
        MemorySegment graph = null;
        ProtobufReader model = new ProtobufReader(file);
        while (model.next()) {
            if (model.field() == 7 && model.wireType() == ProtobufReader.LENGTH_DELIMITED) {
                graph = model.bytes();
            } else {
                model.skip();
            }
        }
        if (graph == null) {
            throw new OnnxFormatException("no graph in the ONNX model (is this an ONNX file?)");
        }
        Map<String, Initializer> inits = new LinkedHashMap<>();
        List<Node> nodes = new ArrayList<>();
        Map<String, double[]> constants = new LinkedHashMap<>();
        ProtobufReader g = new ProtobufReader(graph);
        while (g.next()) {
            if (g.field() == 5 && g.wireType() == ProtobufReader.LENGTH_DELIMITED) {
                Initializer t = tensor(g.bytes());
                inits.put(t.name(), t);
            } else if (g.field() == 1 && g.wireType() == ProtobufReader.LENGTH_DELIMITED) {
                nodes.add(node(g.bytes(), constants));
            } else {
                g.skip();
            }
        }
        return new OnnxGraph(arena, inits, List.copyOf(nodes), constants);
    }

    private static Node node(MemorySegment bytes, Map<String, double[]> constants) {
        ProtobufReader r = new ProtobufReader(bytes);
        List<String> in = new ArrayList<>();
        List<String> out = new ArrayList<>();
        String name = "";
        String op = "";
        Initializer value = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> in.add(r.string());
                case 2 -> out.add(r.string());
                case 3 -> name = r.string();
                case 4 -> op = r.string();
                case 5 -> value = attributeTensor(r.bytes(), value);
                default -> r.skip();
            }
        }
        if (op.equals("Constant") && value != null && !out.isEmpty()) {
            constants.put(out.get(0), values(value));
        }
        return new Node(name, op, List.copyOf(in), List.copyOf(out));
    }

    /** The tensor of a node attribute (field t = 5), if any. */
    private static Initializer attributeTensor(MemorySegment bytes, Initializer previous) {
        ProtobufReader r = new ProtobufReader(bytes);
        Initializer t = previous;
        while (r.next()) {
            if (r.field() == 5 && r.wireType() == ProtobufReader.LENGTH_DELIMITED) {
                t = tensor(r.bytes());
            } else {
                r.skip();
            }
        }
        return t;
    }

    private static double[] values(Initializer t) {
        int n = (int) Math.min(t.elementCount(), 64);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (t.dataType()) {
                case FLOAT -> i * 4L + 4 <= t.data().byteSize()
                        ? t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 4L) : Double.NaN;
                case INT64 -> i * 8L + 8 <= t.data().byteSize()
                        ? t.data().get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 8L) : Double.NaN;
                default -> Double.NaN;
            };
        }
        return v;
    }

    private static Initializer tensor(MemorySegment bytes) {
        ProtobufReader r = new ProtobufReader(bytes);
        List<Long> dims = new ArrayList<>();
        List<Long> int64Data = new ArrayList<>();
        int type = 0;
        String name = "";
        MemorySegment raw = null;
        MemorySegment floatData = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.int64s(dims);
                case 2 -> type = (int) r.varint();
                case 4 -> {
                    if (r.wireType() == ProtobufReader.LENGTH_DELIMITED) {
                        floatData = r.bytes();
                    } else {
                        throw new OnnxFormatException("unpacked float_data is not supported");
                    }
                }
                case 7 -> r.int64s(int64Data);
                case 8 -> name = r.string();
                case 9 -> raw = r.bytes();
                case 14 -> {
                    if (r.varint() == 1) {
                        throw new OnnxFormatException("tensor '" + name + "' stores its data in an external file; "
                                + "import the model with its weights embedded");
                    }
                }
                default -> r.skip();
            }
        }
        long[] d = new long[dims.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = dims.get(i);
            if (d[i] < 0) {
                throw new OnnxFormatException("tensor '" + name + "' has negative dimension " + d[i]);
            }
        }
        MemorySegment data = raw != null ? raw : floatData;
        if (data == null && !int64Data.isEmpty()) {
            MemorySegment heap = MemorySegment.ofArray(int64Data.stream().mapToLong(Long::longValue).toArray());
            data = heap;
        }
        return new Initializer(name, d, type, data == null ? MemorySegment.NULL.reinterpret(0) : data);
    }

    public Optional<Initializer> initializer(String name) {
        return Optional.ofNullable(initializers.get(name));
    }

    public Map<String, Initializer> initializers() {
        return initializers;
    }

    public List<Node> nodes() {
        return nodes;
    }

    /** Values of the Constant node producing {@code output} (first 64 at most), if there is one. */
    public Optional<double[]> constant(String output) {
        return Optional.ofNullable(constants.get(output));
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
