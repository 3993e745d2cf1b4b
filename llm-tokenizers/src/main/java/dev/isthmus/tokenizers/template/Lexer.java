package dev.isthmus.tokenizers.template;

import dev.isthmus.tokenizers.template.Token.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a template into text and tag tokens, applying whitespace control the way transformers' Jinja
 * environment does: {@code trim_blocks=True} (the newline right after a block or comment tag is dropped),
 * {@code lstrip_blocks=True} (spaces and tabs before a block or comment tag at the start of a line are
 * dropped), and {@code -}/{@code +} modifiers on tags.
 */
final class Lexer {

    private static final String[] OPERATORS = {
        "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{",
        "}", ",", ".", ":", "|"
    };
    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*([-+]?)%}");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
    private static final Pattern NUMBER = Pattern.compile("\\d+(?:_\\d+)*(\\.\\d+(?:_\\d+)*)?([eE][+-]?\\d+)?");

    private final SourceText source;
    private final String src;
    private final List<Token> tokens = new ArrayList<>();
    private final boolean trimBlocks;
    private final boolean lstripBlocks;
    private int pos;
    /** Set after a {@code -%}}-style tag end: the next text loses its leading whitespace. */
    private boolean stripNextText;

    Lexer(SourceText source, boolean trimBlocks, boolean lstripBlocks) {
        this.source = source;
        this.src = source.text();
        this.trimBlocks = trimBlocks;
        this.lstripBlocks = lstripBlocks;
    }

    List<Token> tokenize() {
        while (pos < src.length()) {
            int tag = nextTagStart(pos);
            int textEnd = tag < 0 ? src.length() : tag;
            String text = src.substring(pos, textEnd);
            boolean lineStart = pos == 0 || src.charAt(pos - 1) == '\n';
            int textOffset = pos;
            if (stripNextText) {
                int start = 0;
                while (start < text.length() && PythonText.isSpace(text.charAt(start))) {
                    start++;
                }
                text = text.substring(start);
                textOffset += start;
                stripNextText = false;
            }
            if (tag < 0) {
                emitText(text, textOffset);
                break;
            }
            char kind = src.charAt(tag + 1);
            char modifier = tag + 2 < src.length() ? src.charAt(tag + 2) : 0;
            if (modifier == '-') {
                text = PythonText.rstrip(text);
            } else if (modifier != '+' && lstripBlocks && kind != '{') {
                text = lstripBeforeTag(text, lineStart);
            }
            emitText(text, textOffset);
            pos = tag;
            switch (kind) {
                case '#' -> comment();
                case '%' -> {
                    if (!raw()) {
                        tag(Kind.BLOCK_BEGIN, Kind.BLOCK_END, "%}");
                    }
                }
                default -> tag(Kind.VARIABLE_BEGIN, Kind.VARIABLE_END, "}}");
            }
        }
        tokens.add(new Token(Kind.EOF, "", src.length()));
        return tokens;
    }

    private int nextTagStart(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char next = src.charAt(i + 1);
            if (next == '{' || next == '%' || next == '#') {
                return i;
            }
        }
        return -1;
    }

    /** lstrip_blocks: drop the spaces and tabs between the last line start and a block tag. */
    private static String lstripBeforeTag(String text, boolean textStartsLine) {
        int lineStart = text.lastIndexOf('\n') + 1;
        if (lineStart == 0 && !textStartsLine) {
            return text;
        }
        for (int i = lineStart; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != ' ' && c != '\t') {
                return text;
            }
        }
        return text.substring(0, lineStart);
    }

    private void emitText(String text, int offset) {
        if (!text.isEmpty()) {
            tokens.add(new Token(Kind.TEXT, text, offset));
        }
    }

    private void comment() {
        int start = pos;
        int end = src.indexOf("#}", pos + 2);
        if (end < 0) {
            throw source.error("unclosed comment: missing '#}'", start);
        }
        char before = src.charAt(end - 1);
        pos = end + 2;
        afterTagEnd(end - 1 > start + 2 ? before : 0);
    }

    /** Handles what follows a block or comment end: '-' strips the next text, otherwise trim_blocks. */
    private void afterTagEnd(char modifier) {
        if (modifier == '-') {
            stripNextText = true;
        } else if (modifier != '+' && trimBlocks && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
        }
    }

    /** {@code {% raw %}...{% endraw %}}: the body is text, not parsed. */
    private boolean raw() {
        Matcher begin = RAW_BEGIN.matcher(src).region(pos, src.length());
        if (!begin.lookingAt()) {
            return false;
        }
        Matcher end = RAW_END.matcher(src);
        if (!end.find(begin.end())) {
            throw source.error("missing {% endraw %}", pos);
        }
        String body = src.substring(begin.end(), end.start());
        if (begin.group(2).equals("-")) {
            body = PythonText.lstrip(body);
        }
        if (end.group(1).equals("-")) {
            body = PythonText.rstrip(body);
        }
        emitText(body, begin.end());
        pos = end.end();
        afterTagEnd(end.group(2).isEmpty() ? 0 : end.group(2).charAt(0));
        return true;
    }

    private void tag(Kind beginKind, Kind endKind, String endMarker) {
        int tagStart = pos;
        tokens.add(new Token(beginKind, src.substring(pos, pos + 2), pos));
        pos += 2;
        if (pos < src.length() && (src.charAt(pos) == '-' || src.charAt(pos) == '+')) {
            pos++;
        }
        int depth = 0;
        while (true) {
            while (pos < src.length() && PythonText.isSpace(src.charAt(pos))) {
                pos++;
            }
            if (pos >= src.length()) {
                throw source.error("unexpected end of template: missing '" + endMarker + "'", tagStart);
            }
            if (depth == 0) {
                char first = src.charAt(pos);
                // '+' (keep trim_blocks' newline) exists only on block ends, as in Jinja
                if ((first == '-' || (first == '+' && endKind == Kind.BLOCK_END)) && src.startsWith(endMarker, pos + 1)) {
                    tokens.add(new Token(endKind, endMarker, pos));
                    pos += 3;
                    if (endKind == Kind.BLOCK_END) {
                        afterTagEnd(first);
                    } else if (first == '-') {
                        stripNextText = true;
                    }
                    return;
                }
                if (src.startsWith(endMarker, pos)) {
                    tokens.add(new Token(endKind, endMarker, pos));
                    pos += 2;
                    if (endKind == Kind.BLOCK_END) {
                        afterTagEnd((char) 0);
                    }
                    return;
                }
            }
            char c = src.charAt(pos);
            if (c == '\'' || c == '"') {
                string(c);
            } else if (c >= '0' && c <= '9') {
                number();
            } else if (Character.isLetter(c) || c == '_') {
                int start = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
                    pos++;
                }
                tokens.add(new Token(Kind.NAME, src.substring(start, pos), start));
            } else {
                String operator = operatorAt(pos);
                if (operator == null) {
                    throw source.error("unexpected character '" + c + "'", pos);
                }
                switch (operator) {
                    case "(", "[", "{" -> depth++;
                    case ")", "]", "}" -> {
                        if (depth == 0) {
                            throw source.error("unexpected '" + operator + "'", pos);
                        }
                        depth--;
                    }
                    default -> { }
                }
                tokens.add(new Token(Kind.OPERATOR, operator, pos));
                pos += operator.length();
            }
        }
    }

    private String operatorAt(int at) {
        for (String operator : OPERATORS) {
            if (src.startsWith(operator, at)) {
                return operator;
            }
        }
        return null;
    }

    private void number() {
        Matcher m = NUMBER.matcher(src).region(pos, src.length());
        m.lookingAt();
        String text = m.group().replace("_", "");
        boolean real = m.group(1) != null || m.group(2) != null;
        tokens.add(new Token(real ? Kind.FLOAT : Kind.INTEGER, text, pos));
        pos = m.end();
    }

    /** A string literal with Python escapes (Jinja decodes them with Python's unicode-escape codec). */
    private void string(char quote) {
        int start = pos++;
        StringBuilder value = new StringBuilder();
        while (true) {
            if (pos >= src.length()) {
                throw source.error("unterminated string literal", start);
            }
            char c = src.charAt(pos++);
            if (c == quote) {
                break;
            }
            if (c != '\\') {
                value.append(c);
                continue;
            }
            if (pos >= src.length()) {
                throw source.error("unterminated string literal", start);
            }
            char e = src.charAt(pos++);
            switch (e) {
                case 'n' -> value.append('\n');
                case 't' -> value.append('\t');
                case 'r' -> value.append('\r');
                case 'b' -> value.append('\b');
                case 'f' -> value.append('\f');
                case 'v' -> value.append('\u000b');
                case 'a' -> value.append('\u0007');
                case '\\', '\'', '"' -> value.append(e);
                case '\n' -> { } // a backslash-newline continues the line
                case 'x' -> value.appendCodePoint(hex(2, start));
                case 'u' -> value.appendCodePoint(hex(4, start));
                case 'U' -> value.appendCodePoint(hex(8, start));
                default -> {
                    if (e >= '0' && e <= '7') {
                        int code = e - '0';
                        for (int i = 0; i < 2 && pos < src.length() && src.charAt(pos) >= '0' && src.charAt(pos) <= '7'; i++) {
                            code = code * 8 + (src.charAt(pos++) - '0');
                        }
                        value.append((char) code);
                    } else {
                        value.append('\\').append(e); // Python keeps unknown escapes verbatim
                    }
                }
            }
        }
        tokens.add(new Token(Kind.STRING, value.toString(), start));
    }

    private int hex(int digits, int literalStart) {
        if (pos + digits > src.length()) {
            throw source.error("truncated \\x/\\u escape in string literal", literalStart);
        }
        try {
            int code = Integer.parseUnsignedInt(src.substring(pos, pos + digits), 16);
            if (code > Character.MAX_CODE_POINT) {
                throw new NumberFormatException();
            }
            pos += digits;
            return code;
        } catch (NumberFormatException e) {
            throw source.error("invalid escape in string literal", pos);
        }
    }
}
