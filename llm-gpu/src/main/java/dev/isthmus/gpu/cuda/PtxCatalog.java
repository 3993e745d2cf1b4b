package dev.isthmus.gpu.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.OptionalInt;
import java.util.zip.GZIPInputStream;

/**
 * The PTX shipped as resources ({@code kernels.compute_NN.ptx.gz}) and which one a GPU loads: the highest
 * target not above the GPU's compute capability, which the driver JIT-compiles for the GPU. One target,
 * compute_75, covers every GPU CUDA 13 supports (Turing sm_75 through Blackwell sm_120); the list is
 * where a newer target would go once a kernel uses newer instructions.
 *
 * <pre>{@code
 * int target = PtxCatalog.select(90).orElseThrow();   // 75
 * byte[] ptx = PtxCatalog.load(target);
 * }</pre>
 */
public final class PtxCatalog {
    /** PTX targets shipped, ascending. Keep in step with {@code compile-kernels.sh}. */
    static final List<Integer> TARGETS = List.of(75);
    /** GPU architectures the PTX is checked against with ptxas (see KernelPtxTest and README). */
    public static final List<Integer> TESTED_ARCHITECTURES = List.of(75, 80, 86, 89, 90, 100, 120);

    private PtxCatalog() {
    }

    /** The PTX target to load on a GPU of compute capability {@code cc} (major * 10 + minor). */
    public static OptionalInt select(int computeCapability) {
        return select(TARGETS, computeCapability);
    }

    static OptionalInt select(List<Integer> targets, int computeCapability) {
        int best = -1;
        for (int t : targets) {
            if (t <= computeCapability && t > best) {
                best = t;
            }
        }
        return best < 0 ? OptionalInt.empty() : OptionalInt.of(best);
    }

    /** The lowest compute capability the kernels run on. */
    public static int minimumTarget() {
        return TARGETS.getFirst();
    }

    /**
     * The resource name of a target's PTX, gzip-compressed: the text is megabytes of repetitive assembly (a kernel
     * per format and shape), a fifth of that compressed.
     */
    static String resource(int target) {
        return "kernels.compute_" + target + ".ptx.gz";
    }

    /** The PTX text of {@code target}, NUL-terminated as {@code cuModuleLoadData} wants it. */
    static byte[] load(int target) {
        String name = resource(target);
        InputStream resource = PtxCatalog.class.getResourceAsStream(name);
        if (resource == null) {
            throw new IllegalStateException("PTX resource " + name + " is missing from llm-gpu's jar");
        }
        try (InputStream in = new GZIPInputStream(resource)) {
            byte[] text = in.readAllBytes();
            byte[] terminated = new byte[text.length + 1];
            System.arraycopy(text, 0, terminated, 0, text.length);
            return terminated;
        } catch (IOException e) {
            throw new UncheckedIOException("reading PTX resource " + name, e);
        }
    }
}
