package dev.isthmus.tokenizers;

/**
 * Unicode classes the pre-tokenizer patterns use ({@code \s}, {@code \p{L}}, {@code \p{N}}), looked up in a
 * table for the Basic Multilingual Plane so the scanners never call into regex or slow property checks.
 * {@code \s} is the Unicode White_Space property, as in Oniguruma/Rust regex and llama.cpp; note that it
 * differs from {@link Character#isWhitespace} (which excludes U+00A0 and includes U+001C..U+001F).
 */
final class CharClass {
    static final byte OTHER = 0;
    static final byte LETTER = 1;
    static final byte NUMBER = 2;
    static final byte SPACE = 3;

    private static final byte[] BMP = new byte[0x10000];

    static {
        for (int c = 0; c < 0x10000; c++) {
            BMP[c] = compute(c);
        }
    }

    private CharClass() {
    }

    /** The class of a code point: {@link #LETTER}, {@link #NUMBER}, {@link #SPACE} or {@link #OTHER}. */
    static byte of(int cp) {
        return cp < 0x10000 ? BMP[cp] : compute(cp);
    }

    static boolean isWhiteSpace(int cp) {
        return switch (cp) {
            case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200A;
        };
    }

    private static byte compute(int cp) {
        if (isWhiteSpace(cp)) {
            return SPACE;
        }
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            default -> OTHER;
        };
    }
}
