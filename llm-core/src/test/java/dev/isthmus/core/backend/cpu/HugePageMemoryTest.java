package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HugePageMemoryTest {
    private static final Path SMAPS = Path.of("/proc/self/smaps");
    private static final Path THP = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    @Test
    void smallAllocationsComeFromTheArenaZeroedAndAligned() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = HugePageMemory.allocate(arena, 1000);
            assertThat(small.byteSize()).isEqualTo(1000);
            assertThat(small.address() % 64).isZero();
            assertThat(small.toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
        }
    }

    @Test
    void aLargeAllocationIsZeroedWritableAndGoneOnceTheArenaCloses() {
        long bytes = 5 * HugePageMemory.HUGE_PAGE + 123;
        MemorySegment big;
        Optional<String> range = Optional.empty();
        try (Arena arena = Arena.ofShared()) {
            big = HugePageMemory.allocate(arena, bytes);
            assertThat(big.byteSize()).isEqualTo(bytes);
            assertThat(big.address() % (HugePageMemory.enabled() ? HugePageMemory.HUGE_PAGE : 64)).isZero();
            for (long at = 0; at < bytes; at += 4096) {
                assertThat(big.get(ValueLayout.JAVA_BYTE, at)).as("byte %d", at).isZero();
            }
            big.set(ValueLayout.JAVA_BYTE, 0, (byte) 7);
            big.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 9);
            assertThat(big.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
            assertThat(big.get(ValueLayout.JAVA_BYTE, bytes - 1)).isEqualTo((byte) 9);
            if (HugePageMemory.enabled()) {
                range = rangeOf(big.address());
                assertThat(range).as("the mapping in /proc/self/smaps").isPresent();
            }
        }
        assertThat(big.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> big.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        if (range.isPresent()) {
            // The addresses may since have been mapped again by someone else, but not as the same mapping.
            assertThat(rangeOf(big.address())).as("the mapping after the arena closed").isNotEqualTo(range);
        }
    }

    @Test
    void largeMappingsAreMarkedForHugePages() throws IOException {
        assumeTrue(HugePageMemory.enabled(), "huge pages are asked for only on Linux with native access");
        assumeTrue(Files.isReadable(THP) && !Files.readString(THP).contains("[never]"),
                "transparent huge pages are switched off on this machine");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment big = HugePageMemory.allocate(arena, 4 * HugePageMemory.HUGE_PAGE);
            List<String> vma = mapping(big.address()).orElseThrow();
            Optional<String> eligible = vma.stream().filter(l -> l.startsWith("THPeligible:")).findFirst();
            assumeTrue(eligible.isPresent(), "this kernel's smaps has no THPeligible field");
            assertThat(eligible.get().replaceAll("\\s+", " ")).isEqualTo("THPeligible: 1");
        }
    }

    /** The heading line ("start-end perms ...") of the mapping that holds {@code address}, if any. */
    private static Optional<String> rangeOf(long address) {
        return entry(address).map(lines -> lines.get(0));
    }

    /** The fields of the mapping that holds {@code address}, if any. */
    private static Optional<List<String>> mapping(long address) {
        return entry(address).map(lines -> lines.subList(1, lines.size()));
    }

    /** The /proc/self/smaps entry (heading line and fields) whose address range holds {@code address}, if any. */
    private static Optional<List<String>> entry(long address) {
        try {
            List<String> lines = Files.readAllLines(SMAPS);
            for (int i = 0; i < lines.size(); i++) {
                String[] range = lines.get(i).split(" ", 2)[0].split("-");
                if (range.length != 2 || !range[0].matches("[0-9a-f]+") || !range[1].matches("[0-9a-f]+")) {
                    continue;
                }
                long start = HexFormat.fromHexDigitsToLong(range[0]);
                long end = HexFormat.fromHexDigitsToLong(range[1]);
                if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
                    int next = i + 1;
                    while (next < lines.size() && !lines.get(next).matches("[0-9a-f]+-[0-9a-f]+ .*")) {
                        next++;
                    }
                    return Optional.of(lines.subList(i, next));
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + SMAPS, e);
        }
    }
}
