package dev.isthmus.tokenizers.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One Jinja behaviour per case. Every expected string was produced by Python's jinja2 3.1.6 configured as
 * transformers configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
 * transformers' tojson/raise_exception/strftime_now), so these pin down Python semantics where the
 * JavaScript reference renderer differs (e.g. {@code True}, {@code -7 % 3 == 2}, list printing).
 */
class TemplateBehaviourTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final Clock CLOCK = Clock.fixed(Instant.parse("2025-07-06T10:00:00Z"), ZoneOffset.UTC);

    private static Arguments behaviour(String description, String template, String variablesJson, String expected) {
        return Arguments.of(description, template, variablesJson, expected);
    }

    @SuppressWarnings("unchecked")
    static String render(String template, String variablesJson) throws IOException {
        Map<String, Object> variables = JSON.readValue(variablesJson, Map.class);
        return ChatTemplate.compile(template).render(variables, CLOCK);
    }

    /** Whitespace control as transformers configures Jinja: trim_blocks, lstrip_blocks, - and + modifiers. */
    static Stream<Arguments> whitespaceControl() {
        return Stream.of(
                behaviour("trim_blocks drops the newline after a block tag",
                        "{% if true %}\nx{% endif %}\n",
                        "{}",
                        "x"),
                behaviour("lstrip_blocks drops indentation before a block tag",
                        "a\n    {% if true %}x{% endif %}",
                        "{}",
                        "a\nx"),
                behaviour("lstrip_blocks leaves expression tags alone",
                        "a\n    {{ 'x' }}",
                        "{}",
                        "a\n    x"),
                behaviour("lstrip_blocks only strips when the tag starts the line",
                        "a  {% if true %}x{% endif %}",
                        "{}",
                        "a  x"),
                behaviour("a minus on an opening tag strips all whitespace before it",
                        "a \n\t {%- if true %}x{% endif %}",
                        "{}",
                        "ax"),
                behaviour("a minus on a closing tag strips all whitespace after it",
                        "{% if true -%} \n\n x{% endif %}",
                        "{}",
                        "x"),
                behaviour("minus works on expression tags",
                        "a  {{- 'b' -}}  c",
                        "{}",
                        "abc"),
                behaviour("plus on an opening tag disables lstrip_blocks",
                        "a\n  {%+ if true %}x{% endif %}",
                        "{}",
                        "a\n  x"),
                behaviour("plus on a closing tag disables trim_blocks",
                        "{% if true +%}\nx{% endif %}",
                        "{}",
                        "\nx"),
                behaviour("comments vanish and trim their newline",
                        "a{# note #}\nb",
                        "{}",
                        "ab"),
                behaviour("comments honour minus",
                        "a  {#- note -#}  b",
                        "{}",
                        "ab"),
                behaviour("one trailing newline of the template is dropped",
                        "x\n\n",
                        "{}",
                        "x\n"),
                behaviour("CRLF newlines become LF",
                        "a\r\nb",
                        "{}",
                        "a\nb"),
                behaviour("raw blocks are not interpreted",
                        "{% raw %}{{ x }}{% if %}{% endraw %}",
                        "{}",
                        "{{ x }}{% if %}"),
                behaviour("loop bodies keep inner indentation",
                        "{% for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}",
                        "{}",
                        "  - 1\n  - 2\n"));
    }

    /** Literals, operators and their precedence, subscripts, slices, attribute access and Python methods. */
    static Stream<Arguments> expressions() {
        return Stream.of(
                behaviour("string literal escapes",
                        "{{ 'a\\tb\\n\\'c\\' \\\"d\\\" \\u00e9 \\x41' }}",
                        "{}",
                        "a\tb\n'c' \"d\" \u00e9 A"),
                behaviour("adjacent string literals concatenate",
                        "{{ 'a' \"b\" }}",
                        "{}",
                        "ab"),
                behaviour("integers, floats and exponent literals",
                        "{{ 1 }} {{ 2.5 }} {{ 1e3 }} {{ 1_000 }}",
                        "{}",
                        "1 2.5 1000.0 1000"),
                behaviour("booleans and none in both spellings print like Python",
                        "{{ true }} {{ False }} {{ none }} {{ None }}",
                        "{}",
                        "True False None None"),
                behaviour("lists, tuples and dicts print like Python",
                        "{{ [1, 'a', none] }} {{ (1,) }} {{ (1, 2) }} {{ {'k': 'v', 'n': 1} }}",
                        "{}",
                        "[1, 'a', None] (1,) (1, 2) {'k': 'v', 'n': 1}"),
                behaviour("floats print like Python repr",
                        "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 2.0 }} {{ 123456789.0 }}",
                        "{}",
                        "0.30000000000000004 1e+16 1e-05 2.0 123456789.0"),
                behaviour("arithmetic follows Python",
                        "{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 - 4 }}",
                        "{}",
                        "3.5 3 -4 2 1024 64 3"),
                behaviour("tilde concatenates string forms",
                        "{{ 1 ~ 'a' ~ none ~ true }}",
                        "{}",
                        "1aNoneTrue"),
                behaviour("tilde binds tighter than plus",
                        "{{ 'a' + 'b' ~ 'c' }}",
                        "{}",
                        "abc"),
                behaviour("a filter binds tighter than plus",
                        "{{ 'a ' + ' b ' | trim + ' c' }}",
                        "{}",
                        "a b c"),
                behaviour("a filter applies after unary minus",
                        "{{ -3 | abs }}",
                        "{}",
                        "3"),
                behaviour("and/or return an operand like Python",
                        "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] and 1 }} {{ none or none }}",
                        "{}",
                        "x b [] None"),
                behaviour("not binds looser than a test",
                        "{{ not x is defined }}",
                        "{}",
                        "True"),
                behaviour("comparisons chain",
                        "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
                        "{}",
                        "True False True True"),
                behaviour("numbers compare across int, float and bool",
                        "{{ 1 == 1.0 }} {{ true == 1 }} {{ 0 == false }} {{ 'a' == 'a' }} {{ [1] == [1] }}",
                        "{}",
                        "True True True True True"),
                behaviour("in and not in test membership",
                        "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1, 2] }}",
                        "{}",
                        "True True True True"),
                behaviour("inline if with and without else",
                        "{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 }}|",
                        "{}",
                        "y||"),
                behaviour("subscripts with negative indexes",
                        "{{ xs[0] }} {{ xs[-1] }} {{ 'abc'[1] }}",
                        "{\"xs\": [1, 2, 3]}",
                        "1 3 b"),
                behaviour("an index past the end is undefined",
                        "[{{ xs[5] }}]",
                        "{\"xs\": [1]}",
                        "[]"),
                behaviour("slices with steps, negative steps and open ends",
                        "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ xs[5:] }} {{ 'hello'[::-1] }}",
                        "{\"xs\": [1, 2, 3, 4]}",
                        "[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3] [3, 4] [] olleh"),
                behaviour("attribute access reads dict keys",
                        "{{ m.role }} {{ m['content'] }} {{ m.get('missing', 'dflt') }}",
                        "{\"m\": {\"role\": \"user\", \"content\": \"hi\"}}",
                        "user hi dflt"),
                behaviour("a missing key is undefined and renders empty",
                        "[{{ m.nope }}] {{ m.nope is defined }}",
                        "{\"m\": {}}",
                        "[] False"),
                behaviour("dict methods",
                        "{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z') }}",
                        "{\"d\": {\"a\": 1, \"b\": [2]}}",
                        "[('a', 1), ('b', [2])] ['a', 'b'] [1, [2]] 1 None"),
                behaviour("string methods",
                        "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a-b-c'.split('-', 1) }}",
                        "{}",
                        "a b|a|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b-c']"),
                behaviour("more string methods",
                        "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'a-b'.replace('-', '+') }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}",
                        "{}",
                        "True True AB ab a+b Hello World Hello"),
                behaviour("find, count, join and format",
                        "{{ 'abcabc'.find('c') }} {{ 'abc'.find('z') }} {{ 'abcabc'.count('b') }} {{ ', '.join(['a', 'b']) }} {{ '{} and {name}'.format(1, name='x') }}",
                        "{}",
                        "2 -1 2 a, b 1 and x"),
                behaviour("strings index by code point",
                        "{{ s[0] }} {{ s | length }} {{ s[::-1] }}",
                        "{\"s\": \"\ud83d\ude00ab\"}",
                        "\ud83d\ude00 3 ba\ud83d\ude00"));
    }

    /** if, for (loop variables, filters, else, unpacking), set and namespace scoping, macros, call, filter and generation blocks. */
    static Stream<Arguments> statements() {
        return Stream.of(
                behaviour("for loop variables",
                        "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
                        "{}",
                        "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;"),
                behaviour("loop.previtem, loop.nextitem and loop.cycle",
                        "{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {{ loop.cycle('a', 'b') }};{% endfor %}",
                        "{}",
                        "<1>2 a;1<2>3 b;2<3> a;"),
                behaviour("for unpacks tuples",
                        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                        "{\"d\": {\"a\": 1, \"b\": 2}}",
                        "a=1;b=2;"),
                behaviour("for over a dict yields its keys",
                        "{% for k in d %}{{ k }}{% endfor %}",
                        "{\"d\": {\"a\": 1, \"b\": 2}}",
                        "ab"),
                behaviour("for with an inline filter counts only kept items",
                        "{% for x in xs if x is odd %}{{ x }}/{{ loop.length }} {% endfor %}",
                        "{\"xs\": [1, 2, 3, 4, 5]}",
                        "1/3 3/3 5/3 "),
                behaviour("for else runs when nothing was iterated",
                        "{% for x in [] %}x{% else %}empty{% endfor %}",
                        "{}",
                        "empty"),
                behaviour("break and continue",
                        "{% for i in range(10) %}{% if i is even %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}",
                        "{}",
                        "135"),
                behaviour("range with start, stop and step",
                        "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }}",
                        "{}",
                        "[0, 1, 2] [1, 2, 3] [10, 7, 4, 1]"),
                behaviour("if, elif and else",
                        "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}",
                        "{}",
                        "one two many "),
                behaviour("set inside a loop does not leak out",
                        "{% set x = 'outer' %}{% for i in [1] %}{% set x = 'inner' %}{{ x }} {% endfor %}{{ x }}",
                        "{}",
                        "inner outer"),
                behaviour("set inside if does leak out",
                        "{% if true %}{% set x = 'set' %}{% endif %}{{ x }}",
                        "{}",
                        "set"),
                behaviour("namespace attributes survive loops",
                        "{% set ns = namespace(n=0, found=none) %}{% for i in [3, 4, 5] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} {{ ns.found }}",
                        "{}",
                        "12 None"),
                behaviour("namespace takes expression arguments",
                        "{% set ns = namespace(last=xs | length - 1, flag=true) %}{{ ns.last }} {{ ns.flag }}",
                        "{\"xs\": [1, 2, 3]}",
                        "2 True"),
                behaviour("set unpacks a tuple",
                        "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
                        "{}",
                        "12"),
                behaviour("block set captures rendered text",
                        "{% set x %}  <{{ 1 + 1 }}>  {% endset %}[{{ x }}]",
                        "{}",
                        "[  <2>  ]"),
                behaviour("block set with a filter",
                        "{% set x | upper %}abc{% endset %}{{ x }}",
                        "{}",
                        "ABC"),
                behaviour("filter blocks",
                        "{% filter upper | replace('B', '-') %}abc{% endfilter %}",
                        "{}",
                        "A-C"),
                behaviour("macros with defaults and keyword arguments",
                        "{% macro tag(name, cls='x') %}<{{ name }} {{ cls }}>{% endmacro %}{{ tag('a') }}{{ tag('b', cls='y') }}{{ tag(name='c') }}",
                        "{}",
                        "<a x><b y><c x>"),
                behaviour("macros see varargs and kwargs",
                        "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
                        "{}",
                        "1(2,){'k': 3}"),
                behaviour("call blocks pass caller",
                        "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}",
                        "{}",
                        "[inside]"),
                behaviour("generation blocks render their body",
                        "a{% generation %}b{{ 'c' }}{% endgeneration %}d",
                        "{}",
                        "abcd"));
    }

    /** Jinja filters and transformers' tojson. */
    static Stream<Arguments> filters() {
        return Stream.of(
                behaviour("trim, upper, lower, title and capitalize",
                        "{{ '  a b  ' | trim }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hello big-world' | title }}|{{ 'hELLO there' | capitalize }}",
                        "{}",
                        "a b|AB|ab|Hello Big-World|Hello there"),
                behaviour("trim with characters",
                        "{{ '--a--' | trim('-') }}",
                        "{}",
                        "a"),
                behaviour("replace with and without count",
                        "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }}",
                        "{}",
                        "bbb bba"),
                behaviour("length and count",
                        "{{ [1, 2] | length }} {{ 'abc' | count }} {{ {'a': 1} | length }}",
                        "{}",
                        "2 3 1"),
                behaviour("string, int and float",
                        "{{ 12 | string ~ 3 }} {{ '42' | int + 1 }} {{ 'x' | int }} {{ '3.9' | int }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'x' | float }} {{ 'x' | int(7) }}",
                        "{}",
                        "123 43 0 3 3 2.5 0.0 7"),
                behaviour("join with separator and attribute",
                        "{{ [1, 2] | join }} {{ ['a', 'b'] | join(', ') }} {{ users | join('/', attribute='n') }}",
                        "{\"users\": [{\"n\": \"a\"}, {\"n\": \"b\"}]}",
                        "12 a, b a/b"),
                behaviour("first and last",
                        "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }}",
                        "{}",
                        "1 3 a"),
                behaviour("default and d",
                        "{{ missing | default('x') }} {{ none | default('x') }} {{ '' | d('x', true) }} {{ 0 | default(5, boolean=true) }}",
                        "{}",
                        "x None x 5"),
                behaviour("items, list and dictsort",
                        "{{ d | items | list }} {{ 'ab' | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }}",
                        "{\"d\": {\"b\": 1, \"a\": 2}}",
                        "[('b', 1), ('a', 2)] ['a', 'b'] [('a', 2), ('b', 1)] [('a', 2), ('b', 1)]"),
                behaviour("selectattr and rejectattr",
                        "{{ users | selectattr('on') | map(attribute='n') | list }} {{ users | rejectattr('on') | map(attribute='n') | list }} {{ users | selectattr('n', 'equalto', 'b') | list | length }}",
                        "{\"users\": [{\"n\": \"a\", \"on\": true}, {\"n\": \"b\", \"on\": false}]}",
                        "['a'] ['b'] 1"),
                behaviour("map with a filter name or attribute default",
                        "{{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='x', default='?') | list }}",
                        "{\"users\": [{\"x\": 1}, {}]}",
                        "['A', 'B'] [1, '?']"),
                behaviour("select and reject with tests",
                        "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ [1, 5, 9] | select('gt', 4) | list }}",
                        "{}",
                        "[1, 3] [2, 4] [1, 'a'] [5, 9]"),
                behaviour("unique, sort, min and max",
                        "{{ ['b', 'A', 'a'] | unique | list }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }}",
                        "{}",
                        "['b', 'A'] [1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] 1 3"),
                behaviour("sort by attribute",
                        "{{ users | sort(attribute='age') | map(attribute='n') | join }}",
                        "{\"users\": [{\"n\": \"a\", \"age\": 30}, {\"n\": \"b\", \"age\": 20}]}",
                        "ba"),
                behaviour("safe and escape",
                        "{{ '<b>' | safe }} {{ '<a href=\"x\">&\\'' | escape }}",
                        "{}",
                        "<b> &lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
                behaviour("indent",
                        "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, first=true) }}|{{ 'a\\n\\nb' | indent('>', blank=true) }}",
                        "{}",
                        "a\n  b\n\n  c|  a\n  b|a\n>\n>b"),
                behaviour("round, abs and wordcount",
                        "{{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.1 | round(0, 'ceil') }} {{ -3 | abs }} {{ 'one two, three' | wordcount }}",
                        "{}",
                        "2.57 2.0 4.0 3.0 3 3"),
                behaviour("tojson is compact with Python separators",
                        "{{ d | tojson }}",
                        "{\"d\": {\"s\": \"q\\\"\\\\\\n\u00e9\\u0001\", \"n\": [1, 2.5, true, null], \"e\": {}, \"l\": []}}",
                        "{\"s\": \"q\\\"\\\\\\n\u00e9\\u0001\", \"n\": [1, 2.5, true, null], \"e\": {}, \"l\": []}"),
                behaviour("tojson with indent, separators and sort_keys",
                        "{{ d | tojson(indent=2) }}|{{ d | tojson(separators=(',', ':')) }}|{{ d | tojson(sort_keys=true) }}",
                        "{\"d\": {\"b\": [1, {\"c\": null}], \"a\": \"x\"}}",
                        "{\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n  \"a\": \"x\"\n}|{\"b\":[1,{\"c\":null}],\"a\":\"x\"}|{\"a\": \"x\", \"b\": [1, {\"c\": null}]}"),
                behaviour("tojson escapes non-ASCII only when asked",
                        "{{ '\u00e9\ud83d\ude00' | tojson }} {{ '\u00e9\ud83d\ude00' | tojson(ensure_ascii=true) }}",
                        "{}",
                        "\"\u00e9\ud83d\ude00\" \"\\u00e9\\ud83d\\ude00\""),
                behaviour("reverse and sum",
                        "{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 2, 3] | sum }} {{ users | sum(attribute='v') }}",
                        "{\"users\": [{\"v\": 1}, {\"v\": 2}]}",
                        "[3, 2, 1] cba 6 3"));
    }

    /** Jinja tests (is defined, is string, ...). */
    static Stream<Arguments> tests() {
        return Stream.of(
                behaviour("defined, undefined and none",
                        "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ x is not none }}",
                        "{\"x\": 1}",
                        "True False True True True"),
                behaviour("type tests",
                        "{{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ {} is mapping }} {{ [] is mapping }}",
                        "{}",
                        "True True True True True True True False"),
                behaviour("iterable, sequence, boolean and callable",
                        "{{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ 'a' is sequence }} {{ true is boolean }} {{ 1 is boolean }} {{ range is callable }}",
                        "{}",
                        "True True False True True False True"),
                behaviour("true, false and sameas",
                        "{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ none is sameas none }}",
                        "{}",
                        "True False True False True"),
                behaviour("odd, even and divisibleby",
                        "{{ 3 is odd }} {{ 3 is even }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }}",
                        "{}",
                        "True False True True False"),
                behaviour("in, comparison tests and lower/upper",
                        "{{ 'a' is in 'abc' }} {{ 2 is in [1] }} {{ 1 is eq 1 }} {{ 1 is ne 1 }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }}",
                        "{}",
                        "True False True False True False True True"));
    }

    /** Global helpers: range, dict, namespace, strftime_now (clock fixed at 2025-07-06T10:00Z). */
    static Stream<Arguments> globals() {
        return Stream.of(
                behaviour("dict and namespace from a mapping",
                        "{{ dict(a=1, b=2) }} {% set ns = namespace(d) %}{{ ns.k }}",
                        "{\"d\": {\"k\": \"v\"}}",
                        "{'a': 1, 'b': 2} v"),
                behaviour("strftime_now with a fixed clock",
                        "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %-d') }}",
                        "{}",
                        "06 Jul 2025|2025-07-06 10:00:00|Sunday July 6"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("whitespaceControl")
    void whitespaceControl(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("expressions")
    void expressions(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("statements")
    void statements(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("filters")
    void filters(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tests")
    void tests(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("globals")
    void globals(String description, String template, String variables, String expected) throws IOException {
        assertThat(render(template, variables)).as(description + ": " + template).isEqualTo(expected);
    }

}
