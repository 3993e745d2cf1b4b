package dev.isthmus.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.attribute.CodeAttribute;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Group kernels that do all their vector work inside {@code dot} must stay above C2's {@code FreqInlineSize}
 * (325 bytecodes), so that C2 compiles them on their own. Inlined into the backend's loop beside another
 * format's kernel (every Q4_0 or IQ4_NL file's output matrix is Q6_K), Q4_0's kernel exhausted the node budget,
 * its vectors were boxed across the calls left out, and decode ran 3.5 times slower. A refactoring that splits
 * such a {@code dot} into small methods fails here, not only in a benchmark.
 */
class KernelInliningTest {
    static final int FREQ_INLINE_SIZE = 325;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dev.isthmus.quant.Q4_0RowGroups", "dev.isthmus.quant.IQ4_NLRowGroups",
        "dev.isthmus.quant.SlotRowGroups", "dev.isthmus.quant.Q2_KRowGroups",
        "dev.isthmus.quant.Q3_KRowGroups", "dev.isthmus.quant.IQ4_XSRowGroups",
        "dev.isthmus.core.tensor.F16RowGroups",
        "dev.isthmus.core.tensor.Q8_0RowGroups"})
    void dotIsTooBigToInline(String name) throws Exception {
        Class<?> kernel = Class.forName(name); // core's F16RowGroups and Q8_0RowGroups are package-private there
        assertThat(bytecodes(kernel, "dot")).as("bytecodes of %s.dot", kernel.getSimpleName())
                .isGreaterThan(FREQ_INLINE_SIZE);
        // The multi-token kernel, where a layout has one, sits at the same call site and needs the same.
        int multiToken = bytecodes(kernel, "dotTokens");
        if (multiToken > 0) {
            assertThat(multiToken).as("bytecodes of %s.dotTokens", kernel.getSimpleName())
                    .isGreaterThan(FREQ_INLINE_SIZE);
        }
    }

    /** Bytecodes of {@code kernel}'s own method {@code name} (the longest, if overloaded); 0 where it declares none. */
    static int bytecodes(Class<?> kernel, String name) throws IOException {
        ClassModel model;
        try (InputStream in = kernel.getResourceAsStream(kernel.getSimpleName() + ".class")) {
            model = ClassFile.of().parse(in.readAllBytes());
        }
        return model.methods().stream().filter(m -> m.methodName().equalsString(name))
                .mapToInt(m -> m.findAttribute(Attributes.code()).map(CodeAttribute::codeLength).orElse(0))
                .max().orElse(0);
    }
}
