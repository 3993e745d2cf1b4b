package dev.isthmus.tokenizers;

/**
 * The ids put around encoded text when special tokens are added: BOS/EOS for a single text, the
 * {@code [CLS] A [SEP] B [SEP]} shape for pairs (Hugging Face {@code TemplateProcessing}/{@code BertProcessing},
 * llama.cpp's {@code add_bos_token}/{@code add_eos_token}).
 */
record PostProcessor(int[] singlePrefix, int[] singleSuffix, int[] pairPrefix, int[] pairMiddle, int[] pairSuffix) {
    static final PostProcessor NONE = new PostProcessor(new int[0], new int[0], new int[0], new int[0], new int[0]);

    /** BOS and/or EOS around each text (pairs: {@code BOS A EOS BOS B EOS}). */
    static PostProcessor bosEos(int bos, int eos) {
        int[] prefix = bos >= 0 ? new int[] {bos} : new int[0];
        int[] suffix = eos >= 0 ? new int[] {eos} : new int[0];
        int[] middle = new int[prefix.length + suffix.length];
        System.arraycopy(suffix, 0, middle, 0, suffix.length);
        System.arraycopy(prefix, 0, middle, suffix.length, prefix.length);
        return new PostProcessor(prefix, suffix, prefix, middle, suffix);
    }
}
