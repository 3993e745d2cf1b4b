package dev.isthmus.core.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Off-heap memory for the backend's large, long-lived copies (the row-group weights), backed where the system
 * allows it by 2 MiB transparent huge pages instead of 4 KiB ones.
 *
 * <p>Why: decode reads every weight once per token, hundreds of megabytes in a stream, and with 4 KiB pages
 * each page costs a TLB miss and a page walk. On Linux, where transparent huge pages are usually given only on
 * request ({@code madvise} mode), the copy is mapped 2 MiB-aligned and marked {@code MADV_HUGEPAGE} before it
 * is first touched; a 0.5 B Q4_0 model then decodes about 5 % faster (see docs/quantization.md).
 *
 * <p>Elsewhere, without native access for this module ({@code --enable-native-access}), below 2 MiB, with
 * {@code -Disthmus.cpu.hugePages=false}, or when the mapping fails, memory comes from {@link Arena#allocate}
 * as before: huge pages are a hint, never a requirement. Either way the memory is zeroed and released when
 * the arena is closed.
 *
 * <pre>{@code
 * MemorySegment copy = HugePageMemory.allocate(arena, bytes);   // unmapped by arena.close()
 * }</pre>
 */
final class HugePageMemory {
    static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1L;
    /** mmap, madvise and munmap, or null where huge pages are not asked for. */
    private static final Calls CALLS = Calls.find();

    private HugePageMemory() {
    }

    /** Whether large allocations here are mapped for huge pages (Linux, native access, not switched off). */
    static boolean enabled() {
        return CALLS != null;
    }

    /**
     * {@code bytes} of zeroed memory, 64-byte aligned (2 MiB-aligned when mapped for huge pages), freed when
     * {@code arena} closes.
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (CALLS == null || bytes < HUGE_PAGE) {
            return arena.allocate(bytes, 64);
        }
        MemorySegment mapped = CALLS.map(bytes, arena);
        return mapped != null ? mapped : arena.allocate(bytes, 64);
    }

    /** The three libc functions, bound once. */
    private record Calls(MethodHandle mmap, MethodHandle madvise, MethodHandle munmap) {
        static Calls find() {
            if (!"false".equalsIgnoreCase(System.getProperty("isthmus.cpu.hugePages"))
                    && System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
                    // Without native access the first downcall would print a warning on every run; not worth it.
                    && HugePageMemory.class.getModule().isNativeAccessEnabled()) {
                try {
                    Linker linker = Linker.nativeLinker();
                    var libc = linker.defaultLookup();
                    return new Calls(
                            linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(
                                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                    ValueLayout.JAVA_LONG)),
                            linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(
                                    ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                    ValueLayout.JAVA_INT)),
                            linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(
                                    ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG)));
                } catch (RuntimeException e) {
                    return null;
                }
            }
            return null;
        }

        /**
         * A private anonymous mapping with room to start {@code bytes} on a 2 MiB boundary, its whole huge pages
         * marked before any is touched (a page faulted in as 4 KiB stays so until the kernel's background
         * collapsing gets to it); null if the mapping fails. The partial huge page at the end is not marked, so
         * it does not cost a whole 2 MiB of memory.
         */
        MemorySegment map(long bytes, Arena arena) {
            long length = bytes + HUGE_PAGE;
            try {
                long base = (long) mmap.invokeExact(0L, length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
                if (base == MAP_FAILED || base == 0) {
                    return null;
                }
                long start = (base + HUGE_PAGE - 1) & -HUGE_PAGE;
                // The result is ignored: a refusal (THP off, an old kernel) leaves ordinary pages, which work.
                int ignored = (int) madvise.invokeExact(start, bytes & -HUGE_PAGE, MADV_HUGEPAGE);
                return MemorySegment.ofAddress(start).reinterpret(bytes, arena, segment -> unmap(base, length));
            } catch (Throwable e) {
                return null;
            }
        }

        private void unmap(long base, long length) {
            try {
                int ignored = (int) munmap.invokeExact(base, length);
            } catch (Throwable e) {
                throw new IllegalStateException("munmap of the row-group copy failed", e);
            }
        }
    }
}
