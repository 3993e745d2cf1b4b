package dev.isthmus.examples;

import dev.isthmus.core.llm.ChatResponse;
import dev.isthmus.core.llm.LanguageModel;
import dev.isthmus.core.llm.Session;
import dev.isthmus.tokenizers.template.ChatMessage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Interactive chat: each line typed is a user turn; the reply streams back. The conversation is
 * re-rendered with the model's template every turn, and the session's KV cache keeps the unchanged
 * prefix, so only the new turn is processed.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat with a model using its own chat template (type /exit or end input to quit).")
final class ChatCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @ArgGroup(exclusive = false)
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--system", description = "system prompt")
    String system;

    @Option(names = {"-n", "--max-tokens"}, description = "tokens per reply at most (default 512)")
    int maxTokens = 512;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<ChatMessage> history = new ArrayList<>();
        if (system != null) {
            history.add(ChatMessage.system(system));
        }
        try (LanguageModel model = modelOptions.load(); Session session = model.newSession()) {
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) {
                    break;
                }
                if (line.isBlank()) {
                    continue;
                }
                history.add(ChatMessage.user(line));
                ChatResponse reply = model.chat().messages(history).session(session).sampler(sampling.spec())
                        .maxNewTokens(maxTokens).stream(t -> {
                            out.print(t.text());
                            out.flush();
                        });
                out.println();
                history.add(ChatMessage.assistant(reply.text().strip()));
            }
        }
        return 0;
    }
}
