package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.core.tensor.BlockFormat;
import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The kernels' block decoders (dequant.cuh, compiled for the host) read every device format exactly as
 * llm-quant's Java formats do — the layout half of the kernels' correctness, checked without a GPU.
 */
class DecodeLayoutTest {
    @TempDir
    static Path tmp;
    static Path program;

    @BeforeAll
    static void compile() throws Exception {
        Optional<Path> cxx = Toolkit.find("c++").or(() -> Toolkit.find("g++"));
        assumeTrue(cxx.isPresent(), "no C++ compiler: the kernels' block decoders are not checked on the host");
        Path dir = Toolkit.moduleDir();
        program = tmp.resolve("decode_check");
        Toolkit.Result r = Toolkit.run(List.of(cxx.get().toString(), "-O1", "-std=c++17",
                "-I", dir.resolve("src/main/cuda").toString(), dir.resolve("src/test/cuda/decode_check.cpp").toString(),
                "-o", program.toString()));
        assertThat(r.exitCode()).as("compiling decode_check: %s", r.output()).isZero();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"F32, 3, 70", "F16, 3, 70", "Q4_0, 4, 128", "Q8_0, 4, 128", "Q4_K, 3, 512", "Q5_K, 3, 512", "Q6_K, 3, 512",
        "Q4_1, 4, 128", "Q5_0, 4, 128", "Q5_1, 4, 128", "IQ4_NL, 4, 128", "Q2_K, 3, 512", "Q3_K, 3, 512"})
    void hostDecoderMatchesJavaFormat(GgmlType type, int rows, int cols) throws Exception {
        BlockFormat format = BlockFormats.require(type);
        long rowBytes = type.byteSize(cols);
        Random random = new Random(42 + type.id());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(rowBytes * rows, 8);
            float[] values = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    values[c] = (float) (random.nextGaussian() * (r + 1));
                }
                if (type == GgmlType.F32) {
                    MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, r * rowBytes, cols);
                } else if (type == GgmlType.F16) {
                    for (int c = 0; c < cols; c++) {
                        data.set(ValueLayout.JAVA_SHORT_UNALIGNED, r * rowBytes + 2L * c, Float.floatToFloat16(values[c]));
                    }
                } else {
                    assertThat(format.canQuantize()).as("%s encoder", type).isTrue();
                    format.quantize(values, 0, data, r * rowBytes, cols);
                }
            }
            Path in = tmp.resolve(type + ".in");
            Path out = tmp.resolve(type + ".out");
            ByteBuffer header = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(type.id()).putInt(rows).putInt(cols).putLong(rowBytes);
            byte[] bytes = new byte[20 + (int) (rowBytes * rows)];
            System.arraycopy(header.array(), 0, bytes, 0, 20);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, bytes, 20, (int) (rowBytes * rows));
            Files.write(in, bytes);

            Toolkit.Result r = Toolkit.run(List.of(program.toString(), in.toString(), out.toString()));
            assertThat(r.exitCode()).as("decode_check: %s", r.output()).isZero();

            ByteBuffer decoded = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
            float[] expected = new float[cols];
            for (int row = 0; row < rows; row++) {
                format.dequantize(data, row * rowBytes, expected, 0, cols);
                for (int c = 0; c < cols; c++) {
                    float got = decoded.getFloat();
                    // Same products, possibly rounded in another order (d*sc*q vs d*(sc*q)): a few ulps.
                    assertThat(got).as("%s row %d element %d", type, row, c)
                            .isCloseTo(expected[c], org.assertj.core.data.Offset.offset(1e-6f * Math.max(1f, Math.abs(expected[c]))));
                }
            }
        }
    }
}
