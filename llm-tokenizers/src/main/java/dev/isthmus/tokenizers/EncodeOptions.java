package dev.isthmus.tokenizers;

/**
 * How {@link Tokenizer#encode(String, EncodeOptions)} treats special tokens.
 *
 * <pre>{@code
 * int[] prompt = tokenizer.encode(renderedChatTemplate, EncodeOptions.DEFAULT);  // BOS added, <|im_start|> parsed
 * int[] userText = tokenizer.encode(untrusted, EncodeOptions.PLAIN_TEXT);         // "<|im_start|>" stays text
 * }</pre>
 *
 * @param addSpecialTokens add the model's BOS/EOS (or [CLS]/[SEP]) around the ids, as its configuration says
 * @param parseSpecialTokens recognise the text of special (control) tokens such as {@code <|eot_id|>} and
 *     turn it into their ids; when false such text is tokenized like any other text. Added tokens that are
 *     not special (e.g. Qwen's {@code <think>}) are always recognised, as Hugging Face and llama.cpp do.
 */
public record EncodeOptions(boolean addSpecialTokens, boolean parseSpecialTokens) {
    /** Hugging Face's default: special tokens added and parsed. */
    public static final EncodeOptions DEFAULT = new EncodeOptions(true, true);
    /** Neither added nor parsed: the text's own tokens only (how llama.cpp's test vectors are made). */
    public static final EncodeOptions PLAIN_TEXT = new EncodeOptions(false, false);

    /** Returns these options with {@code addSpecialTokens} replaced. */
    public EncodeOptions withAddSpecialTokens(boolean add) {
        return new EncodeOptions(add, parseSpecialTokens);
    }

    /** Returns these options with {@code parseSpecialTokens} replaced. */
    public EncodeOptions withParseSpecialTokens(boolean parse) {
        return new EncodeOptions(addSpecialTokens, parse);
    }
}
