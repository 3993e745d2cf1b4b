package dev.isthmus.core.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.isthmus.core.tensor.BlockFormats;
import dev.isthmus.core.tensor.Tensor;
import dev.isthmus.core.tensor.UnsupportedFormatException;
import dev.isthmus.core.testing.SharedTestData;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * Feeds thousands of corrupted versions of the real test files to the reader. Each must either load
 * (and then be safe to use) or fail with a {@link GgufFormatException} — never another exception, an
 * OutOfMemoryError or a hang.
 */
class GgufMutationTest {
    private static final String[] FILES = {
            "models/stories260K.gguf", "models/stories260K-gguf-v1.gguf", "models/stories260K-q8_0.gguf",
            "models/llama-2-tiny-random.gguf", "models/synth-phi3.gguf"};
    private static final int TRUNCATIONS_PER_FILE = 1000;
    private static final int FLIPS_PER_FILE = 1000;
    private static final int ABSURD_VALUES_PER_FILE = 300;

    private int inputs;
    private int rejected;

    @Test
    void corruptedFilesFailCleanly() {
        long start = System.nanoTime();
        Assertions.assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            for (String name : FILES) {
                byte[] original = Files.readAllBytes(SharedTestData.testdata(name));
                long headerEnd;
                try (GgufFile clean = GgufFile.read(MemorySegment.ofArray(original))) {
                    headerEnd = clean.dataOffset();
                }
                SplittableRandom random = new SplittableRandom(name.hashCode());
                truncations(name, original, headerEnd, random);
                bitFlips(name, original, headerEnd, random);
                absurdValues(name, original, headerEnd, random);
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("GGUF mutation test: %d mutated inputs, %d rejected with GgufFormatException, %.1f s%n",
                inputs, rejected, seconds);
        assertThat(inputs).as("mutated inputs").isGreaterThanOrEqualTo(10_000);
        assertThat(rejected).as("most mutations must be detected").isGreaterThan(inputs / 2);
    }

    private void truncations(String name, byte[] original, long headerEnd, SplittableRandom random) {
        MemorySegment whole = MemorySegment.ofArray(original);
        for (int i = 0; i < TRUNCATIONS_PER_FILE; i++) {
            // Dense over the header, where every byte matters; sparse over the tensor data.
            long cut = i < TRUNCATIONS_PER_FILE * 3 / 4 ? random.nextLong(headerEnd + 1) : random.nextLong(original.length);
            check(name + " truncated at " + cut, whole.asSlice(0, cut));
        }
    }

    private void bitFlips(String name, byte[] original, long headerEnd, SplittableRandom random) {
        for (int i = 0; i < FLIPS_PER_FILE; i++) {
            int flips = 1 + random.nextInt(3);
            int[] at = new int[flips];
            int[] mask = new int[flips];
            for (int f = 0; f < flips; f++) {
                at[f] = (int) random.nextLong(headerEnd);
                mask[f] = 1 << random.nextInt(8);
                original[at[f]] ^= (byte) mask[f];
            }
            try {
                check(name + " with bits flipped at " + java.util.Arrays.toString(at), MemorySegment.ofArray(original));
            } finally {
                for (int f = flips - 1; f >= 0; f--) {
                    original[at[f]] ^= (byte) mask[f];
                }
            }
        }
    }

    /** Overwrites 4 or 8 header bytes with counts and lengths such as 2^63, 2^40 or -1. */
    private void absurdValues(String name, byte[] original, long headerEnd, SplittableRandom random) {
        long[] values = {Long.MAX_VALUE, 1L << 40, -1L, 1L << 32, 0xFFFF_FFFFL, 1L << 20, 0};
        byte[] saved = new byte[8];
        for (int i = 0; i < ABSURD_VALUES_PER_FILE; i++) {
            int at = (int) random.nextLong(Math.max(1, headerEnd - 8));
            int width = random.nextBoolean() ? 8 : 4;
            long value = values[random.nextInt(values.length)];
            System.arraycopy(original, at, saved, 0, width);
            for (int b = 0; b < width; b++) {
                original[at + b] = (byte) (value >>> (8 * b));
            }
            try {
                check(name + " with " + value + " written at " + at, MemorySegment.ofArray(original));
            } finally {
                System.arraycopy(saved, 0, original, at, width);
            }
        }
    }

    private void check(String what, MemorySegment bytes) {
        inputs++;
        try (GgufFile gguf = GgufFile.read(bytes)) {
            useEverything(gguf);
        } catch (GgufFormatException e) {
            rejected++;
            assertThat(e.getMessage()).as(what).contains("byte");
        } catch (UnsupportedFormatException | MissingMetadataException e) {
            // A flipped type id may name a format whose kernels live in llm-quant: a clear, expected refusal.
            rejected++;
        } catch (Throwable t) {
            fail(what + " threw " + t, t);
        }
    }

    private static void useEverything(GgufFile gguf) {
        gguf.metadata().forEach((k, v) -> String.valueOf(v));
        for (GgufTensorInfo info : gguf.tensors()) {
            Tensor t = gguf.tensor(info.name());
            if (t.rowCount() > 0 && t.rowLength() > 0 && BlockFormats.find(t.type()).isPresent()) {
                float[] row = new float[(int) t.rowLength()];
                t.dequantizeRow(0, row, 0);
                t.dotRow(t.rowCount() - 1, row, 0);
            }
        }
    }
}
