package dev.isthmus.examples;

import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.llm.ChatResponse;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.retrieval.Passage;
import dev.isthmus.core.retrieval.RagPrompt;
import dev.isthmus.core.retrieval.ScoredPassage;
import dev.isthmus.core.retrieval.TextChunker;
import dev.isthmus.core.retrieval.VectorIndex;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Semantic search over a folder of text files, and with a decoder model a generated answer: the
 * project's main demo. With no arguments it indexes Isthmus's own documentation with the embedded
 * default encoder (all-MiniLM-L6-v2 from Maven Central) and answers a few questions.
 */
@Command(name = "rag", mixinStandardHelpOptions = true,
        description = "Index text files, retrieve passages for questions, optionally generate answers.")
final class RagCommand implements Callable<Integer> {
    static final List<String> DEMO_QUESTIONS = List.of(
            "How do I make a smaller, faster model file?",
            "What happens when a model file is corrupt?",
            "How can generation be made reproducible?",
            "Which tokenizers are supported?");

    @Option(names = {"-d", "--docs"}, description = "folder of .md/.txt files (default: the project's docs and README)")
    Path docs;

    @Option(names = {"-q", "--query"}, description = "question (repeatable; default: demo questions)")
    List<String> queries = new ArrayList<>();

    @Option(names = {"-e", "--encoder"}, description = "encoder GGUF (default: the imported all-MiniLM-L6-v2)")
    Path encoderPath;

    @Option(names = {"-m", "--model"}, description = "decoder GGUF: also generate an answer from the passages")
    Path model;

    @Option(names = {"-k", "--top-k"}, description = "passages per question (default 3)")
    int topK = 3;

    @Option(names = {"-n", "--max-tokens"}, description = "answer length with --model (default 128)")
    int maxTokens = 128;

    @Option(names = {"-t", "--threads"}, description = "worker threads")
    Integer threads;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path encoderFile = encoderPath != null ? encoderPath : DefaultEncoder.resolve(spec.commandLine().getErr());
        List<Path> files = documents();
        var builder = Llm.encoder().model(encoderFile).truncate(true);
        if (threads != null) {
            builder.threads(threads);
        }
        try (Encoder encoder = builder.build()) {
            VectorIndex index = new VectorIndex(encoder);
            TextChunker chunker = new TextChunker(600);
            long start = System.nanoTime();
            for (Path f : files) {
                index.addAll(chunker.chunk(f.getFileName().toString(), Files.readString(f)));
            }
            out.printf("Indexed %d passages from %d files with %s in %.1f s%n%n", index.size(), files.size(),
                    encoderFile.getFileName(), (System.nanoTime() - start) / 1e9);
            LanguageModel decoder = model == null ? null : loadDecoder();
            try {
                for (String q : queries.isEmpty() ? DEMO_QUESTIONS : queries) {
                    out.println("Q: " + q);
                    List<ScoredPassage> hits = index.search(q, topK);
                    for (ScoredPassage hit : hits) {
                        Passage p = hit.passage();
                        out.printf("  %.3f  %s#%d  %s%n", hit.score(), p.source(), p.index(), preview(p.text()));
                    }
                    if (decoder != null) {
                        String prompt = fitToContext(decoder, hits, q);
                        ChatResponse answer = decoder.chat().user(prompt).maxNewTokens(maxTokens).call();
                        out.println("A: " + answer.text().strip());
                    }
                    out.println();
                }
            } finally {
                if (decoder != null) {
                    decoder.close();
                }
            }
        }
        return 0;
    }

    /**
     * The RAG prompt with as many of the retrieved passages (best first) as fit the decoder's context together
     * with the answer; the last one kept is cut if even one passage is too long.
     */
    private String fitToContext(LanguageModel decoder, List<ScoredPassage> hits, String question) {
        int budget = decoder.contextLength() - maxTokens - 32; // room for the chat template's own tokens
        List<ScoredPassage> kept = new ArrayList<>(hits);
        while (true) {
            String prompt = RagPrompt.build(kept, question);
            int tokens = decoder.tokenizer().encode(prompt).length;
            if (tokens <= budget) {
                return prompt;
            }
            if (kept.size() > 1) {
                kept.remove(kept.size() - 1);
                continue;
            }
            if (kept.isEmpty()) {
                throw new IllegalArgumentException("the question alone does not fit the model's context of "
                        + decoder.contextLength() + " tokens with " + maxTokens + " for the answer");
            }
            Passage p = kept.get(0).passage();
            int keep = (int) (p.text().length() * (double) budget / tokens * 0.9);
            if (keep < 16) {
                kept.clear();
                continue;
            }
            kept.set(0, new ScoredPassage(new Passage(p.source(), p.index(), p.text().substring(0, keep)),
                    kept.get(0).score()));
        }
    }

    private LanguageModel loadDecoder() {
        var b = Llm.builder().model(model);
        if (threads != null) {
            b.threads(threads);
        }
        return b.build();
    }

    private List<Path> documents() throws IOException {
        List<Path> files = new ArrayList<>();
        if (docs != null) {
            try (Stream<Path> s = Files.walk(docs)) {
                s.filter(p -> p.toString().endsWith(".md") || p.toString().endsWith(".txt")).sorted().forEach(files::add);
            }
        } else {
            Path home = Path.of(System.getProperty("isthmus.home", "."));
            try (Stream<Path> s = Files.list(home.resolve("docs"))) {
                s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
            }
            files.add(home.resolve("README.md"));
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no .md or .txt files in " + docs);
        }
        return files;
    }

    private static String preview(String text) {
        String oneLine = text.replaceAll("\\s+", " ").strip();
        return oneLine.length() <= 110 ? oneLine : oneLine.substring(0, 107) + "...";
    }
}
