package dev.isthmus.tokenizers;

import java.text.Normalizer;
import java.util.List;

/** A {@code tokenizer.json} normalizer: rewrites ordinary text before pre-tokenization. */
interface TextNormalizer {
    String normalize(String text);

    /** Unicode NFC; text with no char at or above U+0300 is already in NFC and skips the check. */
    static TextNormalizer nfc() {
        return text -> {
            for (int i = 0; i < text.length(); i++) {
                if (text.charAt(i) >= 0x300) {
                    return Normalizer.isNormalized(text, Normalizer.Form.NFC)
                            ? text : Normalizer.normalize(text, Normalizer.Form.NFC);
                }
            }
            return text;
        };
    }

    static TextNormalizer nfd() {
        return text -> Normalizer.normalize(text, Normalizer.Form.NFD);
    }

    static TextNormalizer nfkc() {
        return text -> Normalizer.normalize(text, Normalizer.Form.NFKC);
    }

    static TextNormalizer nfkd() {
        return text -> Normalizer.normalize(text, Normalizer.Form.NFKD);
    }

    static TextNormalizer lowercase() {
        return text -> text.toLowerCase(java.util.Locale.ROOT);
    }

    static TextNormalizer sequence(List<TextNormalizer> steps) {
        List<TextNormalizer> copy = List.copyOf(steps);
        return text -> {
            for (TextNormalizer step : copy) {
                text = step.normalize(text);
            }
            return text;
        };
    }
}
