package dev.isthmus.tokenizers.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.tokenizers.template.TemplateLimitException.Limit;
import java.io.File;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Templates are untrusted: they reach only plain values, and every render ends quickly in bounded memory. */
class SandboxTest {

    private static String render(String template) {
        return render(template, Map.of());
    }

    private static String render(String template, Map<String, ?> variables) {
        return ChatTemplate.compile(template).render(variables, Clock.systemUTC());
    }

    @Test
    void hugeLoopHitsTheStepBudget() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> render("{% for i in range(10**9) %}{% endfor %}"))
                .as("a billion iterations must be cut off by the step budget")
                .isInstanceOfSatisfying(TemplateLimitException.class, e -> assertThat(e.limit()).isEqualTo(Limit.STEPS))
                .hasMessageContaining("maxSteps");
        assertThat((System.nanoTime() - start) / 1e9).as("seconds to hit the budget").isLessThan(5);
    }

    @Test
    void materialisingAHugeRangeIsRefusedUpFront() {
        assertThatThrownBy(() -> render("{{ range(10**12) | list | length }}"))
                .as("range | list of 10^12 items").isInstanceOf(TemplateLimitException.class);
    }

    @Test
    void outputIsBounded() {
        ChatTemplate template = ChatTemplate.compile("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
                new TemplateLimits(10_000_000, 100_000, 100));
        assertThatThrownBy(() -> template.render(Map.of(), Clock.systemUTC()))
                .as("1 M characters against a 100 k limit")
                .isInstanceOfSatisfying(TemplateLimitException.class,
                        e -> assertThat(e.limit()).isEqualTo(Limit.OUTPUT_SIZE));
    }

    @Test
    void hugeStringsAreRefusedBeforeTheyAreBuilt() {
        assertThatThrownBy(() -> render("{% set s = 'x' * 10**12 %}"))
                .as("'x' * 10**12 must fail without allocating")
                .isInstanceOfSatisfying(TemplateLimitException.class,
                        e -> assertThat(e.limit()).isEqualTo(Limit.OUTPUT_SIZE));
        assertThatThrownBy(() -> render("{% set s = 'xx' * 2**62 %}"))
                .as("a length that overflows 64 bits still trips the limit")
                .isInstanceOf(TemplateLimitException.class);
        assertThatThrownBy(() -> render("{% set s = [1, 2] * 2**62 %}"))
                .as("list repetition is bounded too").isInstanceOf(TemplateLimitException.class);
    }

    @Test
    void recursiveMacrosAreBounded() {
        assertThatThrownBy(() -> render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"))
                .as("unbounded macro recursion")
                .isInstanceOfSatisfying(TemplateLimitException.class,
                        e -> assertThat(e.limit()).isEqualTo(Limit.RECURSION_DEPTH))
                .hasMessageContaining("maxDepth");
    }

    @Test
    void deeplyNestedSyntaxIsRejectedAtCompileTime() {
        String nested = "{{ " + "(".repeat(5000) + "1" + ")".repeat(5000) + " }}";
        assertThatThrownBy(() -> ChatTemplate.compile(nested))
                .as("5000 nested parentheses").isInstanceOf(TemplateSyntaxException.class)
                .hasMessageContaining("nested too deeply");
        String chain = "{{ 1" + " + 1".repeat(5000) + " }}";
        assertThatThrownBy(() -> ChatTemplate.compile(chain))
                .as("a 5000-term sum nests the tree as deeply").isInstanceOf(TemplateSyntaxException.class);
    }

    @Test
    void dunderAttributesYieldNothingUsable() {
        assertThat(render("[{{ ''.__class__ }}][{{ messages.__class__ }}]", Map.of("messages", List.of())))
                .as("private attributes render as undefined, as in Jinja's sandbox").isEqualTo("[][]");
        assertThatThrownBy(() -> render("{{ ''.__class__.__mro__ }}"))
                .as("and cannot be followed further").isInstanceOf(TemplateException.class)
                .hasMessageContaining("unsafe");
        assertThatThrownBy(() -> render("{{ ''.__class__() }}"))
                .as("nor called").isInstanceOf(TemplateException.class);
    }

    @Test
    void mutatingMethodsAreUnsafe() {
        assertThatThrownBy(() -> render("{% set xs = [] %}{{ xs.append(1) }}"))
                .as("list.append, as in transformers' ImmutableSandboxedEnvironment")
                .isInstanceOf(TemplateException.class).hasMessageContaining("unsafe");
        assertThatThrownBy(() -> render("{{ d.update({'a': 1}) }}", Map.of("d", Map.of())))
                .as("dict.update").isInstanceOf(TemplateException.class).hasMessageContaining("unsafe");
    }

    @Test
    void javaObjectsAreNotAcceptedAsVariables() {
        assertThatThrownBy(() -> render("{{ f }}", Map.of("f", new File("/etc/passwd"))))
                .as("only JSON-like values may be passed in").isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("java.io.File");
    }

    @Test
    void onlyNamespacesAcceptAttributeAssignment() {
        assertThatThrownBy(() -> render("{% set d = {} %}{% set d.x = 1 %}"))
                .as("set d.x on a dict").isInstanceOf(TemplateException.class)
                .hasMessageContaining("non-namespace");
    }

    @Test
    void raiseExceptionThrowsWithTheTemplatesMessage() {
        assertThatThrownBy(() -> render("line one\n{{ raise_exception('Roles must alternate') }}"))
                .as("raise_exception")
                .isInstanceOf(TemplateException.class)
                .hasMessageStartingWith("Roles must alternate")
                .satisfies(e -> assertThat(((TemplateException) e).line()).as("line of the call").isEqualTo(2));
    }

    @Test
    void usingUndefinedValuesFailsLikeJinja() {
        assertThatThrownBy(() -> render("{{ missing.attribute }}"))
                .as("attribute of undefined").isInstanceOf(TemplateException.class)
                .hasMessageContaining("'missing' is undefined");
        assertThatThrownBy(() -> render("{{ 'a' + missing }}"))
                .as("arithmetic with undefined").isInstanceOf(TemplateException.class);
        assertThat(render("[{{ missing }}]{% for x in missing %}x{% endfor %}{{ missing | length }}"))
                .as("printing, iterating and measuring undefined are allowed").isEqualTo("[]0");
    }

    @Test
    void typeErrorsAreReported() {
        assertThatThrownBy(() -> render("{{ 'a' + 1 }}"))
                .as("str + int").isInstanceOf(TemplateException.class)
                .hasMessageContaining("unsupported operand type(s) for +: 'str' and 'int'");
        assertThatThrownBy(() -> render("{{ 1 // 0 }}"))
                .as("division by zero").isInstanceOf(TemplateException.class).hasMessageContaining("division by zero");
        assertThatThrownBy(() -> render("{{ 2 ** 64 }}"))
                .as("64-bit overflow is reported, not wrapped").isInstanceOf(TemplateException.class)
                .hasMessageContaining("overflow");
    }

    @Test
    void syntaxErrorsNameLineAndColumn() {
        assertThatThrownBy(() -> ChatTemplate.compile("ok\n{% if x %}\n  {{ x + }}\n{% endif %}"))
                .as("a dangling operator")
                .isInstanceOfSatisfying(TemplateSyntaxException.class, e -> {
                    assertThat(e.line()).as("line").isEqualTo(3);
                    assertThat(e.column()).as("column").isEqualTo(10);
                })
                .hasMessageContaining("line 3, column 10");
    }

    @Test
    void unclosedBlocksAreSyntaxErrors() {
        assertThatThrownBy(() -> ChatTemplate.compile("{% for x in xs %}{{ x }}"))
                .as("missing endfor").isInstanceOf(TemplateSyntaxException.class).hasMessageContaining("endfor");
        assertThatThrownBy(() -> ChatTemplate.compile("{{ 'abc }}"))
                .as("unterminated string").isInstanceOf(TemplateSyntaxException.class);
        assertThatThrownBy(() -> ChatTemplate.compile("{# never closed"))
                .as("unterminated comment").isInstanceOf(TemplateSyntaxException.class);
    }

    @Test
    void unsupportedTagsAreSyntaxErrors() {
        assertThatThrownBy(() -> ChatTemplate.compile("{% include 'other.jinja' %}"))
                .as("include would reach other files").isInstanceOf(TemplateSyntaxException.class)
                .hasMessageContaining("include");
        assertThatThrownBy(() -> ChatTemplate.compile("{% extends 'base' %}"))
                .as("extends").isInstanceOf(TemplateSyntaxException.class);
    }

    @Test
    void unknownFiltersAndTestsFail() {
        assertThatThrownBy(() -> render("{{ 1 | nosuchfilter }}"))
                .as("unknown filter").isInstanceOf(TemplateException.class).hasMessageContaining("nosuchfilter");
        assertThatThrownBy(() -> render("{{ 1 is nosuchtest }}"))
                .as("unknown test").isInstanceOf(TemplateException.class).hasMessageContaining("nosuchtest");
    }

    @Test
    void rendersAreIndependent() {
        ChatTemplate template = ChatTemplate.compile("{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}");
        assertThat(template.render(Map.of(), Clock.systemUTC()) + template.render(Map.of(), Clock.systemUTC()))
                .as("state does not leak between renders of one compiled template").isEqualTo("11");
    }
}
