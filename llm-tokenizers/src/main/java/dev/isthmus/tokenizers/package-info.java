/**
 * Tokenizers for language models, exact to their references: Hugging Face {@code tokenizers} for
 * {@code tokenizer.json} files and llama.cpp for GGUF vocabularies.
 *
 * <pre>{@code
 * // From a Hugging Face tokenizer.json (and optionally its tokenizer_config.json):
 * Tokenizer llama3 = HuggingFaceTokenizerLoader.load(Path.of("tokenizer.json"), Path.of("tokenizer_config.json"));
 * int[] ids = llama3.encode("Hello world", EncodeOptions.PLAIN_TEXT);   // [9906, 1917]
 *
 * // From a GGUF file's metadata (read by llm-core's GgufFile):
 * Tokenizer tok = GgufTokenizerLoader.fromMetadata(gguf.metadata());
 *
 * // Streaming generated ids to text, whole characters only:
 * StreamingDecoder out = tok.newStreamingDecoder(true);
 * for (int id : generated) System.out.print(out.push(id));
 * }</pre>
 *
 * <p>Public types: {@link dev.isthmus.tokenizers.Tokenizer} (immutable, thread-safe),
 * {@link dev.isthmus.tokenizers.EncodeOptions}, {@link dev.isthmus.tokenizers.StreamingDecoder},
 * the two loaders and {@link dev.isthmus.tokenizers.TokenizerFormatException}. Everything else is
 * package-private: the algorithms (byte-level BPE with hand-written pre-tokenizer scanners, SentencePiece
 * BPE, WordPiece in its Hugging Face and llama.cpp variants) and the parts loaders assemble.
 */
package dev.isthmus.tokenizers;
