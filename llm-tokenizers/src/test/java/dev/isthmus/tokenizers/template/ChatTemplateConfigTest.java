package dev.isthmus.tokenizers.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Loading templates from tokenizer_config.json and GGUF metadata, and choosing one as transformers does. */
class ChatTemplateConfigTest {

    private static final List<ChatMessage> HI = List.of(ChatMessage.user("hi"));

    @Test
    void aStringTemplateIsTheDefault() {
        ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfigJson("""
                {"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}",
                 "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}}""");
        assertThat(config.names()).as("names").containsExactly("default");
        assertThat(config.render(HI, config.defaultOptions())).as("bos from a string, eos from an AddedToken")
                .isEqualTo("<s>hi</s>");
    }

    @Test
    void namedTemplatesAreSelectableAndToolUseIsPickedWithTools() {
        ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfigJson("""
                {"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"},
                                   {"name": "rag", "template": "R"}]}""");
        assertThat(config.names()).as("names in file order").containsExactly("default", "tool_use", "rag");
        assertThat(config.render(HI, RenderOptions.DEFAULTS)).as("without tools").isEqualTo("D");
        assertThat(config.render(HI, RenderOptions.DEFAULTS.withTools(List.of(Map.of("name", "f")))))
                .as("with tools").isEqualTo("T");
        assertThat(config.template("rag").render(HI, RenderOptions.DEFAULTS)).as("by name").isEqualTo("R");
        assertThatThrownBy(() -> config.template("nope")).as("unknown name")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rag");
    }

    @Test
    void severalTemplatesWithoutADefaultMustBeNamed() {
        ChatTemplateConfig config = ChatTemplateConfig.fromTokenizerConfigJson("""
                {"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]}""");
        assertThatThrownBy(config::defaultTemplate).as("no default among several")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("default");
    }

    @Test
    void ggufMetadataProvidesDefaultAndNamedTemplates() {
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("general.architecture", "llama");
        metadata.put("tokenizer.chat_template", "{{ bos_token }}main");
        metadata.put("tokenizer.chat_template.tool_use", "tools");
        ChatTemplateConfig config = ChatTemplateConfig.fromGgufMetadata(metadata, "<s>", "</s>");
        assertThat(config.names()).as("names").containsExactlyInAnyOrder("default", "tool_use");
        assertThat(config.render(HI, config.defaultOptions())).as("default").isEqualTo("<s>main");
    }

    @Test
    void sharedLlama3AndQwen3ConfigsLoad() throws IOException {
        ChatTemplateConfig llama = ChatTemplateConfig.fromTokenizerConfig(
                SharedData.tokenizers().resolve("llama3.tokenizer_config.json"));
        ChatTemplateConfig qwen = ChatTemplateConfig.fromTokenizerConfig(
                SharedData.tokenizers().resolve("qwen3.tokenizer_config.json"));
        assertThat(llama.bosToken()).as("llama3 bos").contains("<|begin_of_text|>");
        assertThat(qwen.bosToken()).as("qwen3 has no bos").isEmpty();
        assertThat(qwen.eosToken()).as("qwen3 eos").contains("<|im_end|>");
    }

    @Test
    void messagesCarryExtraFieldsToTheTemplate() {
        ChatTemplate template = ChatTemplate.compile(
                "{% for m in messages %}{{ m.role }}:{{ m.content }}:{{ m.tool_calls[0].function.name }}:"
                        + "{{ m.tool_calls[0].function.arguments | tojson }}{% endfor %}");
        ChatMessage call = ChatMessage.assistant("").with("tool_calls", List.of(Map.of("function",
                Map.of("name", "get_weather", "arguments", Map.of("city", "Paris")))));
        assertThat(template.render(List.of(call), RenderOptions.DEFAULTS))
                .as("tool_calls given as Java maps").isEqualTo("assistant::get_weather:{\"city\": \"Paris\"}");
    }

    @Test
    void renderOptionsBecomeTemplateVariables() {
        ChatTemplate template = ChatTemplate.compile(
                "{{ add_generation_prompt }} {{ tools }} {{ bos_token is defined }} {{ enable_thinking }}");
        assertThat(template.render(HI, RenderOptions.DEFAULTS.withAddGenerationPrompt(true)
                .withExtra("enable_thinking", false)))
                .as("tools is None and bos_token undefined unless given, as in transformers")
                .isEqualTo("True None False False");
    }

    @Test
    void messagesParseFromJsonKeepingEveryKey() {
        List<ChatMessage> messages = ChatMessage.listFromJson("""
                [{"role": "assistant", "content": null, "reasoning_content": "hmm"}]""");
        ChatTemplate template = ChatTemplate.compile(
                "{{ messages[0].content is none }} {{ messages[0].reasoning_content }}");
        assertThat(template.render(messages, RenderOptions.DEFAULTS)).as("null content and an extra key")
                .isEqualTo("True hmm");
    }
}
