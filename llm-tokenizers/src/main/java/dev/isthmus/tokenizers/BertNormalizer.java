package dev.isthmus.tokenizers;

import java.text.Normalizer;

/**
 * Hugging Face's {@code BertNormalizer}: drops NUL, U+FFFD and control characters and turns whitespace into
 * spaces ({@code clean_text}), puts spaces around CJK ideographs ({@code handle_chinese_chars}), removes
 * accents through NFD ({@code strip_accents}, which defaults to {@code lowercase}) and lower-cases
 * character by character (no final-sigma rule, as in Rust's {@code char::to_lowercase}).
 */
final class BertNormalizer implements TextNormalizer {
    private final boolean cleanText;
    private final boolean handleChineseChars;
    private final boolean stripAccents;
    private final boolean lowercase;

    BertNormalizer(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) {
        this.cleanText = cleanText;
        this.handleChineseChars = handleChineseChars;
        this.stripAccents = stripAccents;
        this.lowercase = lowercase;
    }

    @Override
    public String normalize(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (cleanText) {
                if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                    continue;
                }
                if (cp == '\t' || cp == '\n' || cp == '\r' || CharClass.isWhiteSpace(cp)) {
                    sb.append(' ');
                    continue;
                }
            }
            if (handleChineseChars && isChinese(cp)) {
                sb.append(' ').appendCodePoint(cp).append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        }
        String s = sb.toString();
        if (stripAccents) {
            s = stripMarks(Normalizer.normalize(s, Normalizer.Form.NFD));
        }
        return lowercase ? lowerCase(s) : s;
    }

    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED -> true;
            default -> false;
        };
    }

    static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    private static String stripMarks(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.getType(cp) != Character.NON_SPACING_MARK) {
                sb.appendCodePoint(cp);
            }
        }
        return sb.toString();
    }

    private static String lowerCase(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0x130) {
                sb.append("i\u0307"); // the one unconditional one-to-many lower-case mapping
            } else {
                sb.appendCodePoint(Character.toLowerCase(cp));
            }
        }
        return sb.toString();
    }
}
