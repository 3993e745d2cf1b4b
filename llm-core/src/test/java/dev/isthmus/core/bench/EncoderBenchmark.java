package dev.isthmus.core.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.llm.Llm;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Sentence embeddings per second: Isthmus (MiniLM f16 GGUF) next to ONNX Runtime (the same model's ONNX
 * from the Maven artifact), same thread count, batches of 1 and 32 sentences. Score = ops/s; multiply by
 * the batch size for sentences/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class EncoderBenchmark {
    @Param({"1", "32"})
    public int batch;

    @Param({"2"})
    public int threads;

    private Encoder encoder;
    private OrtEnvironment env;
    private OrtSession session;
    private List<String> texts;
    private int[][] ids;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path shared = Path.of(System.getProperty("isthmus.shared", "../shared"));
        encoder = Llm.encoder().model(shared.resolve("testdata/models/all-minilm-l6-v2-f16.gguf")).threads(threads).build();
        texts = new ArrayList<>();
        String base = "Retrieval augmented generation combines a search engine with a language model so answers "
                + "can cite passages the model never saw during training";
        for (int i = 0; i < batch; i++) {
            texts.add(base.substring(0, 40 + (i * 37) % (base.length() - 40)) + " #" + i);
        }
        ids = new int[batch][];
        for (int i = 0; i < batch; i++) {
            ids[i] = encoder.tokens(texts.get(i));
        }
        env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        try (InputStream in = EncoderBenchmark.class.getResourceAsStream("/all-minilm-l6-v2.onnx")) {
            session = env.createSession(in.readAllBytes(), options);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        encoder.close();
        session.close();
    }

    @Benchmark
    public Object isthmus() {
        return encoder.embed(texts);
    }

    /** ONNX Runtime on the same token ids, padded to the longest with an attention mask, then mean pooling. */
    @Benchmark
    public Object onnxRuntime() throws Exception {
        int max = 0;
        for (int[] s : ids) {
            max = Math.max(max, s.length);
        }
        long[] input = new long[batch * max];
        long[] mask = new long[batch * max];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < ids[b].length; t++) {
                input[b * max + t] = ids[b][t];
                mask[b * max + t] = 1;
            }
        }
        long[] shape = {batch, max};
        try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(input), shape);
             OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
             OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[batch * max]), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", c))) {
            float[][][] hidden = (float[][][]) r.get(0).getValue();
            float[][] pooled = new float[batch][hidden[0][0].length];
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < ids[b].length; t++) {
                    for (int j = 0; j < pooled[b].length; j++) {
                        pooled[b][j] += hidden[b][t][j] / ids[b].length;
                    }
                }
            }
            return pooled;
        }
    }
}
