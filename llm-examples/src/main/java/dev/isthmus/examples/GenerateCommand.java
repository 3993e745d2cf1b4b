package dev.isthmus.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.core.llm.Completion;
import dev.isthmus.core.llm.CompletionRequest;
import dev.isthmus.core.llm.LanguageModel;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Generates a continuation of a prompt, streaming it, or printing one JSON object as {@code ref generate} does. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a GGUF model.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @ArgGroup(exclusive = false)
    SamplingOptions sampling = new SamplingOptions();

    @Parameters(index = "0", arity = "0..1", description = "the prompt (or use -p)")
    String positionalPrompt;

    @Option(names = {"-p", "--prompt"}, description = "the prompt")
    String prompt;

    @Option(names = {"-n", "--max-tokens"}, description = "tokens to generate (default 128)")
    int maxTokens = 128;

    @Option(names = "--stop", description = "stop string (repeatable)")
    List<String> stops = new ArrayList<>();

    @Option(names = "--bos", negatable = true, description = "add BOS (default: as the model says)")
    Boolean bos;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-generation tokens")
    boolean ignoreEos;

    @Option(names = "--json", description = "print one JSON object: prompt_ids, ids, text, finish_reason, timings")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        String text = prompt != null ? prompt : positionalPrompt;
        if (text == null) {
            throw new IllegalArgumentException("no prompt: pass it as an argument or with -p");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (LanguageModel model = modelOptions.load()) {
            CompletionRequest request = model.complete(text).sampler(sampling.spec()).maxNewTokens(maxTokens)
                    .ignoreEos(ignoreEos).stop(stops.toArray(String[]::new));
            if (bos != null) {
                request.addBos(bos);
            }
            if (json) {
                Completion c = request.call();
                ObjectMapper mapper = new ObjectMapper();
                ObjectNode node = mapper.createObjectNode();
                node.put("model", modelOptions.model.toString());
                node.put("prompt", text);
                var promptIds = node.putArray("prompt_ids");
                for (int id : c.promptIds()) {
                    promptIds.add(id);
                }
                var ids = node.putArray("ids");
                for (int id : c.ids()) {
                    ids.add(id);
                }
                node.put("text", c.text());
                node.put("finish_reason", c.finishReason().name().toLowerCase(java.util.Locale.ROOT));
                node.put("prefill_ms", Math.round(c.prefillMillis() * 100) / 100.0);
                node.put("decode_tok_s", Math.round(c.decodeTokensPerSecond() * 100) / 100.0);
                node.put("threads", modelOptions.threads == null ? Runtime.getRuntime().availableProcessors()
                        : modelOptions.threads);
                node.put("backend", model.backendName());
                out.println(mapper.writeValueAsString(node));
            } else {
                out.print(text);
                out.flush();
                Completion c = request.stream(t -> {
                    out.print(t.text());
                    out.flush();
                });
                out.println();
                spec.commandLine().getErr().printf("[%s; prompt %d tokens %.1f tok/s, generated %d tokens %.1f tok/s]%n",
                        c.finishReason(), c.promptIds().length, c.prefillTokensPerSecond(), c.ids().length,
                        c.decodeTokensPerSecond());
            }
        }
        return 0;
    }
}
