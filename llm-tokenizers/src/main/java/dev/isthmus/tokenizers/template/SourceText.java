package dev.isthmus.tokenizers.template;

import java.util.Arrays;

/** Template source after Jinja's newline normalisation, with offset → line/column mapping for errors. */
final class SourceText {

    private final String text;
    private final int[] lineStarts;

    SourceText(String raw) {
        // Jinja turns \r\n and \r into \n and drops one trailing newline (keep_trailing_newline=False).
        String normalised = raw.replace("\r\n", "\n").replace('\r', '\n');
        if (normalised.endsWith("\n")) {
            normalised = normalised.substring(0, normalised.length() - 1);
        }
        this.text = normalised;
        int[] starts = new int[16];
        int count = 0;
        starts[count++] = 0;
        for (int i = 0; i < normalised.length(); i++) {
            if (normalised.charAt(i) == '\n') {
                if (count == starts.length) {
                    starts = Arrays.copyOf(starts, count * 2);
                }
                starts[count++] = i + 1;
            }
        }
        this.lineStarts = Arrays.copyOf(starts, count);
    }

    String text() {
        return text;
    }

    int line(int offset) {
        int index = Arrays.binarySearch(lineStarts, offset);
        return (index >= 0 ? index : -index - 2) + 1;
    }

    int column(int offset) {
        return offset - lineStarts[line(offset) - 1] + 1;
    }

    TemplateSyntaxException error(String message, int offset) {
        return new TemplateSyntaxException(message, line(offset), column(offset));
    }
}
