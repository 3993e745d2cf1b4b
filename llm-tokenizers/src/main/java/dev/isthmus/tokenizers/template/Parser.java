package dev.isthmus.tokenizers.template;

import dev.isthmus.tokenizers.template.Token.Kind;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Recursive-descent parser for the Jinja subset chat templates use. Operator precedence follows
 * jinja2/parser.py: conditional &lt; or &lt; and &lt; not &lt; comparison &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt;
 * unary, and filters/tests bind tighter than any binary operator ({@code a + b | trim} trims only b).
 */
final class Parser {

    private static final Set<String> COMPARISONS = Set.of("==", "!=", "<", ">", "<=", ">=");

    private final SourceText source;
    private final List<Token> tokens;
    /** Bounds the syntax tree's depth, so that evaluating it cannot overflow the Java stack. */
    static final int MAX_SYNTAX_DEPTH = 256;

    private final int maxDepth = MAX_SYNTAX_DEPTH;
    private int index;
    private int depth;

    Parser(SourceText source, List<Token> tokens) {
        this.source = source;
        this.tokens = tokens;
    }

    List<Node> parseTemplate() {
        List<Node> body = parseBody(Set.of());
        if (peek().kind() != Kind.EOF) {
            Token stray = tokens.get(index + 1);
            throw source.error("unexpected '" + stray.text() + "'", stray.offset());
        }
        return body;
    }

    // ---- statements ------------------------------------------------------------------------------------

    /** Parses nodes until EOF or a block tag whose keyword is in {@code terminators} (left unconsumed). */
    private List<Node> parseBody(Set<String> terminators) {
        enter(peek());
        List<Node> nodes = new ArrayList<>();
        while (true) {
            Token token = peek();
            switch (token.kind()) {
                case EOF -> {
                    if (!terminators.isEmpty()) {
                        throw source.error("unexpected end of template, expected one of " + terminators, token.offset());
                    }
                    depth--;
                    return nodes;
                }
                case TEXT -> {
                    next();
                    nodes.add(new Node.Text(token.text(), token.offset()));
                }
                case VARIABLE_BEGIN -> {
                    next();
                    Expr expr = parseTuple();
                    expect(Kind.VARIABLE_END, "}}");
                    nodes.add(new Node.Output(expr, token.offset()));
                }
                case BLOCK_BEGIN -> {
                    Token keyword = tokens.get(index + 1);
                    if (keyword.kind() == Kind.NAME && terminators.contains(keyword.text())) {
                        depth--;
                        return nodes;
                    }
                    next();
                    nodes.add(parseStatement());
                }
                default -> throw source.error("unexpected '" + token.text() + "'", token.offset());
            }
        }
    }

    private Node parseStatement() {
        Token keyword = expect(Kind.NAME, "statement keyword");
        int at = keyword.offset();
        return switch (keyword.text()) {
            case "if" -> parseIf(at);
            case "for" -> parseFor(at);
            case "set" -> parseSet(at);
            case "macro" -> parseMacro(at);
            case "call" -> parseCallBlock(at);
            case "filter" -> parseFilterBlock(at);
            case "break" -> {
                endTag();
                yield new Node.Break(at);
            }
            case "continue" -> {
                endTag();
                yield new Node.Continue(at);
            }
            case "generation" -> {
                endTag();
                List<Node> body = parseBody(Set.of("endgeneration"));
                closeBlock("endgeneration");
                yield new Node.Generation(body, at);
            }
            default -> throw source.error("unknown or unsupported tag '" + keyword.text() + "'", at);
        };
    }

    private Node parseIf(int at) {
        List<Node.Branch> branches = new ArrayList<>();
        Expr test = parseExpression();
        endTag();
        while (true) {
            List<Node> body = parseBody(Set.of("elif", "else", "endif"));
            branches.add(new Node.Branch(test, body));
            next(); // BLOCK_BEGIN
            String keyword = next().text();
            if (keyword.equals("elif")) {
                test = parseExpression();
                endTag();
                continue;
            }
            List<Node> otherwise = List.of();
            if (keyword.equals("else")) {
                endTag();
                otherwise = parseBody(Set.of("endif"));
                closeBlock("endif");
            } else {
                endTag();
            }
            return new Node.If(branches, otherwise, at);
        }
    }

    private Node parseFor(int at) {
        List<String> targets = new ArrayList<>();
        boolean parenthesised = acceptOperator("(");
        do {
            targets.add(expect(Kind.NAME, "loop variable").text());
        } while (acceptOperator(","));
        if (parenthesised) {
            expectOperator(")");
        }
        Token in = expect(Kind.NAME, "'in'");
        if (!in.text().equals("in")) {
            throw source.error("expected 'in' in for statement", in.offset());
        }
        Expr iterable = parseOr(); // not a full expression: 'if' after it is the loop filter
        Expr filter = null;
        if (peek().isName("if")) {
            next();
            filter = parseExpression();
        }
        if (peek().isName("recursive")) {
            throw source.error("recursive for loops are not supported", peek().offset());
        }
        endTag();
        List<Node> body = parseBody(Set.of("else", "endfor"));
        List<Node> otherwise = List.of();
        next();
        if (next().text().equals("else")) {
            endTag();
            otherwise = parseBody(Set.of("endfor"));
            closeBlock("endfor");
        } else {
            endTag();
        }
        return new Node.For(List.copyOf(targets), iterable, filter, body, otherwise, at);
    }

    private Node parseSet(int at) {
        Token first = expect(Kind.NAME, "variable name");
        if (acceptOperator(".")) {
            String attribute = expect(Kind.NAME, "attribute name").text();
            expectOperator("=");
            Expr value = parseTuple();
            endTag();
            return new Node.SetAttribute(first.text(), attribute, value, at);
        }
        List<String> targets = new ArrayList<>(List.of(first.text()));
        while (acceptOperator(",")) {
            targets.add(expect(Kind.NAME, "variable name").text());
        }
        if (acceptOperator("=")) {
            Expr value = parseTuple();
            endTag();
            return new Node.Set(List.copyOf(targets), value, at);
        }
        if (targets.size() != 1) {
            throw source.error("a block set assigns exactly one name", at);
        }
        Expr filter = null;
        if (peek().isOperator("|")) {
            filter = parseFilterChain(null);
        }
        endTag();
        List<Node> body = parseBody(Set.of("endset"));
        closeBlock("endset");
        return new Node.SetBlock(first.text(), filter, body, at);
    }

    private Node parseMacro(int at) {
        String name = expect(Kind.NAME, "macro name").text();
        List<Node.Parameter> parameters = parseParameters();
        endTag();
        List<Node> body = parseBody(Set.of("endmacro"));
        closeBlock("endmacro");
        return new Node.Macro(name, parameters, body, at);
    }

    private List<Node.Parameter> parseParameters() {
        List<Node.Parameter> parameters = new ArrayList<>();
        expectOperator("(");
        while (!acceptOperator(")")) {
            if (!parameters.isEmpty()) {
                expectOperator(",");
                if (acceptOperator(")")) {
                    break;
                }
            }
            String name = expect(Kind.NAME, "parameter name").text();
            Expr fallback = acceptOperator("=") ? parseExpression() : null;
            parameters.add(new Node.Parameter(name, fallback));
        }
        return List.copyOf(parameters);
    }

    private Node parseCallBlock(int at) {
        List<Node.Parameter> callerParameters = peek().isOperator("(") ? parseParameters() : List.of();
        Expr call = parseExpression();
        if (!(call instanceof Expr.Call c)) {
            throw source.error("expected a macro call after 'call'", at);
        }
        endTag();
        List<Node> body = parseBody(Set.of("endcall"));
        closeBlock("endcall");
        return new Node.CallBlock(c, callerParameters, body, at);
    }

    private Node parseFilterBlock(int at) {
        Expr filter = parseFilterChain(null, true);
        endTag();
        List<Node> body = parseBody(Set.of("endfilter"));
        closeBlock("endfilter");
        return new Node.FilterBlock(filter, body, at);
    }

    private void closeBlock(String keyword) {
        expect(Kind.BLOCK_BEGIN, "{%");
        Token token = expect(Kind.NAME, keyword);
        if (!token.text().equals(keyword)) {
            throw source.error("expected '" + keyword + "'", token.offset());
        }
        endTag();
    }

    private void endTag() {
        expect(Kind.BLOCK_END, "%}");
    }

    // ---- expressions -----------------------------------------------------------------------------------

    /** An expression, or a bare tuple {@code a, b} as allowed in {@code {{ }}} and {@code set}. */
    private Expr parseTuple() {
        Expr first = parseExpression();
        if (!peek().isOperator(",")) {
            return first;
        }
        List<Expr> items = new ArrayList<>(List.of(first));
        while (acceptOperator(",")) {
            if (peek().kind() == Kind.BLOCK_END || peek().kind() == Kind.VARIABLE_END) {
                break;
            }
            items.add(parseExpression());
        }
        return new Expr.ListLiteral(List.copyOf(items), true, first.offset());
    }

    Expr parseExpression() {
        enter(peek());
        Expr expr = parseOr();
        while (peek().isName("if")) {
            int at = next().offset();
            Expr test = parseOr();
            Expr otherwise = null;
            if (peek().isName("else")) {
                next();
                otherwise = parseExpression();
            }
            expr = new Expr.Conditional(test, expr, otherwise, at);
        }
        depth--;
        return expr;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        int nested = 0;
        while (peek().isName("or")) {
            enter(peek());
            nested++;
            int at = next().offset();
            left = new Expr.Binary("or", left, parseAnd(), at);
        }
        depth -= nested;
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        int nested = 0;
        while (peek().isName("and")) {
            enter(peek());
            nested++;
            int at = next().offset();
            left = new Expr.Binary("and", left, parseNot(), at);
        }
        depth -= nested;
        return left;
    }

    private Expr parseNot() {
        if (peek().isName("not")) {
            Token not = next();
            enter(not);
            Expr operand = parseNot();
            depth--;
            return new Expr.Unary("not", operand, not.offset());
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        Expr first = parseAdditive();
        List<String> operators = new ArrayList<>();
        List<Expr> operands = new ArrayList<>();
        while (true) {
            Token token = peek();
            if (token.kind() == Kind.OPERATOR && COMPARISONS.contains(token.text())) {
                next();
                operators.add(token.text());
            } else if (token.isName("in")) {
                next();
                operators.add("in");
            } else if (token.isName("not") && tokens.get(index + 1).isName("in")) {
                next();
                next();
                operators.add("not in");
            } else {
                break;
            }
            operands.add(parseAdditive());
        }
        return operators.isEmpty() ? first : new Expr.Compare(first, List.copyOf(operators), List.copyOf(operands),
                first.offset());
    }

    private Expr parseAdditive() {
        Expr left = parseConcat();
        int nested = 0;
        while (peek().isOperator("+") || peek().isOperator("-")) {
            enter(peek());
            nested++;
            Token op = next();
            left = new Expr.Binary(op.text(), left, parseConcat(), op.offset());
        }
        depth -= nested;
        return left;
    }

    private Expr parseConcat() {
        Expr left = parseMultiplicative();
        int nested = 0;
        while (peek().isOperator("~")) {
            enter(peek());
            nested++;
            Token op = next();
            left = new Expr.Binary("~", left, parseMultiplicative(), op.offset());
        }
        depth -= nested;
        return left;
    }

    private Expr parseMultiplicative() {
        Expr left = parsePower();
        int nested = 0;
        while (peek().isOperator("*") || peek().isOperator("/") || peek().isOperator("//")
                || peek().isOperator("%")) {
            enter(peek());
            nested++;
            Token op = next();
            left = new Expr.Binary(op.text(), left, parsePower(), op.offset());
        }
        depth -= nested;
        return left;
    }

    private Expr parsePower() {
        Expr left = parseUnary(true);
        int nested = 0;
        while (peek().isOperator("**")) {
            enter(peek());
            nested++;
            Token op = next();
            left = new Expr.Binary("**", left, parseUnary(true), op.offset());
        }
        depth -= nested;
        return left;
    }

    private Expr parseUnary(boolean withFilters) {
        Token token = peek();
        Expr expr;
        if (token.isOperator("-") || token.isOperator("+")) {
            next();
            enter(token);
            expr = new Expr.Unary(token.text(), parseUnary(false), token.offset());
            depth--;
        } else {
            expr = parsePrimary();
        }
        expr = parsePostfix(expr);
        return withFilters ? parseFilterChain(expr) : expr;
    }

    private Expr parsePrimary() {
        Token token = next();
        int at = token.offset();
        return switch (token.kind()) {
            case NAME -> switch (token.text()) {
                case "true", "True" -> new Expr.Literal(Value.Bool.TRUE, at);
                case "false", "False" -> new Expr.Literal(Value.Bool.FALSE, at);
                case "none", "None" -> new Expr.Literal(Value.None.INSTANCE, at);
                default -> new Expr.Name(token.text(), at);
            };
            case STRING -> {
                StringBuilder text = new StringBuilder(token.text());
                while (peek().kind() == Kind.STRING) { // adjacent literals concatenate, as in Python
                    text.append(next().text());
                }
                yield new Expr.Literal(new Value.Str(text.toString()), at);
            }
            case INTEGER -> {
                try {
                    yield new Expr.Literal(new Value.Int(Long.parseLong(token.text())), at);
                } catch (NumberFormatException e) {
                    throw source.error("integer literal too large: " + token.text(), at);
                }
            }
            case FLOAT -> new Expr.Literal(new Value.Real(Double.parseDouble(token.text())), at);
            case OPERATOR -> switch (token.text()) {
                case "(" -> parseParenthesised(at);
                case "[" -> new Expr.ListLiteral(parseItems("]"), false, at);
                case "{" -> parseDict(at);
                default -> throw source.error("unexpected '" + token.text() + "'", at);
            };
            default -> throw source.error("unexpected " + describe(token), at);
        };
    }

    private Expr parseParenthesised(int at) {
        enter(peek());
        try {
            if (acceptOperator(")")) {
                return new Expr.ListLiteral(List.of(), true, at);
            }
            Expr first = parseExpression();
            if (acceptOperator(")")) {
                return first;
            }
            List<Expr> items = new ArrayList<>(List.of(first));
            while (acceptOperator(",")) {
                if (peek().isOperator(")")) {
                    break;
                }
                items.add(parseExpression());
            }
            expectOperator(")");
            return new Expr.ListLiteral(List.copyOf(items), true, at);
        } finally {
            depth--;
        }
    }

    private List<Expr> parseItems(String close) {
        enter(peek());
        List<Expr> items = new ArrayList<>();
        while (!acceptOperator(close)) {
            if (!items.isEmpty()) {
                expectOperator(",");
                if (acceptOperator(close)) {
                    break;
                }
            }
            items.add(parseExpression());
        }
        depth--;
        return List.copyOf(items);
    }

    private Expr parseDict(int at) {
        enter(peek());
        List<Expr> keys = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (!acceptOperator("}")) {
            if (!keys.isEmpty()) {
                expectOperator(",");
                if (acceptOperator("}")) {
                    break;
                }
            }
            keys.add(parseExpression());
            expectOperator(":");
            values.add(parseExpression());
        }
        depth--;
        return new Expr.DictLiteral(List.copyOf(keys), List.copyOf(values), at);
    }

    private Expr parsePostfix(Expr expr) {
        int nested = 0;
        while (true) {
            Token token = peek();
            if (token.isOperator(".")) {
                next();
                Token name = next();
                if (name.kind() == Kind.NAME) {
                    expr = new Expr.Attribute(expr, name.text(), name.offset());
                } else if (name.kind() == Kind.INTEGER) { // foo.0 is foo[0] in Jinja
                    expr = new Expr.Item(expr, new Expr.Literal(new Value.Int(Long.parseLong(name.text())),
                            name.offset()), name.offset());
                } else {
                    throw source.error("expected an attribute name after '.'", name.offset());
                }
            } else if (token.isOperator("[")) {
                next();
                expr = parseSubscript(expr, token.offset());
            } else if (token.isOperator("(")) {
                expr = parseCall(expr);
            } else {
                depth -= nested;
                return expr;
            }
            enter(token); // a chain a.b[0]() nests the tree one level per link
            nested++;
        }
    }

    private Expr parseSubscript(Expr object, int at) {
        enter(peek());
        try {
            Expr start = null;
            if (!peek().isOperator(":")) {
                start = parseExpression();
                if (acceptOperator("]")) {
                    return new Expr.Item(object, start, at);
                }
            }
            expectOperator(":");
            Expr stop = null;
            Expr step = null;
            if (!peek().isOperator("]") && !peek().isOperator(":")) {
                stop = parseExpression();
            }
            if (acceptOperator(":") && !peek().isOperator("]")) {
                step = parseExpression();
            }
            expectOperator("]");
            return new Expr.Slice(object, start, stop, step, at);
        } finally {
            depth--;
        }
    }

    private Expr.Call parseCall(Expr callee) {
        Token open = next();
        List<Expr> args = new ArrayList<>();
        Map<String, Expr> kwargs = new LinkedHashMap<>();
        parseArguments(args, kwargs);
        return new Expr.Call(callee, List.copyOf(args), kwargs, open.offset());
    }

    /** After '(' : positional then keyword arguments, up to and including ')'. */
    private void parseArguments(List<Expr> args, Map<String, Expr> kwargs) {
        enter(peek());
        boolean first = true;
        while (!acceptOperator(")")) {
            if (!first) {
                expectOperator(",");
                if (acceptOperator(")")) {
                    break;
                }
            }
            first = false;
            Token token = peek();
            if (token.kind() == Kind.NAME && tokens.get(index + 1).isOperator("=")) {
                next();
                next();
                kwargs.put(token.text(), parseExpression());
            } else {
                if (!kwargs.isEmpty()) {
                    throw source.error("positional argument after keyword argument", token.offset());
                }
                args.add(parseExpression());
            }
        }
        depth--;
    }

    private Expr parseFilterChain(Expr expr) {
        return parseFilterChain(expr, false);
    }

    /** Filters ({@code | name(args)}) and tests ({@code is [not] name args}) after an operand. */
    private Expr parseFilterChain(Expr expr, boolean leadingPipeOptional) {
        boolean first = true;
        int nested = 0;
        while (true) {
            Token token = peek();
            if (token.isOperator("|") || (first && leadingPipeOptional && token.kind() == Kind.NAME)) {
                if (token.isOperator("|")) {
                    next();
                }
                Token name = expect(Kind.NAME, "filter name");
                String filterName = dottedName(name);
                List<Expr> args = new ArrayList<>();
                Map<String, Expr> kwargs = new LinkedHashMap<>();
                if (acceptOperator("(")) {
                    parseArguments(args, kwargs);
                }
                expr = new Expr.Filter(expr, filterName, List.copyOf(args), kwargs, name.offset());
                enter(name);
                nested++;
            } else if (token.isName("is") && expr != null) {
                next();
                boolean negated = false;
                if (peek().isName("not")) {
                    next();
                    negated = true;
                }
                Token name = next();
                if (name.kind() != Kind.NAME) {
                    throw source.error("expected a test name after 'is'", name.offset());
                }
                String testName = dottedName(name);
                List<Expr> args = new ArrayList<>();
                Token after = peek();
                if (after.isOperator("(")) {
                    next();
                    Map<String, Expr> kwargs = new LinkedHashMap<>();
                    parseArguments(args, kwargs);
                    args.addAll(kwargs.values());
                } else if (startsBareTestArgument(after)) {
                    args.add(parsePostfix(parsePrimary()));
                }
                expr = new Expr.Test(expr, testName, List.copyOf(args), negated, name.offset());
                enter(name);
                nested++;
            } else if (token.isOperator("(") && expr != null) {
                expr = parseCall(expr);
                enter(token);
                nested++;
            } else {
                depth -= nested;
                return expr;
            }
            first = false;
        }
    }

    private String dottedName(Token name) {
        StringBuilder full = new StringBuilder(name.text());
        while (peek().isOperator(".") && tokens.get(index + 1).kind() == Kind.NAME) {
            next();
            full.append('.').append(next().text());
        }
        return full.toString();
    }

    /** jinja2: a test takes one argument without parentheses when it starts like a primary expression. */
    private static boolean startsBareTestArgument(Token token) {
        return switch (token.kind()) {
            case NAME -> !Set.of("else", "or", "and", "if", "in", "not", "is").contains(token.text());
            case STRING, INTEGER, FLOAT -> true;
            case OPERATOR -> token.text().equals("[") || token.text().equals("{") || token.text().equals("-");
            default -> false;
        };
    }

    // ---- token helpers -----------------------------------------------------------------------------------

    private void enter(Token at) {
        if (++depth > maxDepth) {
            throw source.error("template nested too deeply (limit " + maxDepth + ")", at.offset());
        }
    }

    private Token peek() {
        return tokens.get(index);
    }

    private Token next() {
        Token token = tokens.get(index);
        if (token.kind() != Kind.EOF) {
            index++;
        }
        return token;
    }

    private boolean acceptOperator(String operator) {
        if (peek().isOperator(operator)) {
            index++;
            return true;
        }
        return false;
    }

    private void expectOperator(String operator) {
        Token token = peek();
        if (!token.isOperator(operator)) {
            throw source.error("expected '" + operator + "' but found " + describe(token), token.offset());
        }
        index++;
    }

    private Token expect(Kind kind, String what) {
        Token token = peek();
        if (token.kind() != kind) {
            throw source.error("expected " + what + " but found " + describe(token), token.offset());
        }
        index++;
        return token;
    }

    private static String describe(Token token) {
        return switch (token.kind()) {
            case EOF -> "end of template";
            case TEXT -> "template text";
            case STRING -> "string literal";
            default -> "'" + token.text() + "'";
        };
    }
}
