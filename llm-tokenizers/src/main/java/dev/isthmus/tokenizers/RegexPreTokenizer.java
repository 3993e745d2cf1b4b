package dev.isthmus.tokenizers;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A {@code Split} pre-tokenizer with behaviour {@code Isolated} for patterns that have no hand-written
 * scanner: matches and the gaps between them are both words. Uses {@link Pattern#UNICODE_CHARACTER_CLASS}
 * so that {@code \s} and {@code \w} mean what they mean in the Rust/Oniguruma engines tokenizers are written for.
 */
final class RegexPreTokenizer implements PreTokenizer {
    private final Pattern pattern;

    RegexPreTokenizer(String regex, String field) {
        try {
            this.pattern = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw new TokenizerFormatException(field + ": pattern is not a valid regular expression: " + regex, e);
        }
    }

    @Override
    public void split(String text, int from, int to, IntList ends) {
        Matcher m = pattern.matcher(text).region(from, to);
        int last = from;
        while (m.find()) {
            if (m.end() == m.start()) {
                continue; // an empty match makes no word
            }
            if (m.start() > last) {
                ends.add(m.start());
            }
            ends.add(m.end());
            last = m.end();
        }
        if (last < to) {
            ends.add(to);
        }
    }
}
