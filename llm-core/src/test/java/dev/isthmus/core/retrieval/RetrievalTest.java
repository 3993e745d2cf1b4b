package dev.isthmus.core.retrieval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.encoder.Encoder;
import dev.isthmus.core.llm.Llm;
import dev.isthmus.core.testing.SharedTestData;
import java.util.List;
import org.junit.jupiter.api.Test;

class RetrievalTest {

    @Test
    void chunkerKeepsPassagesUnderTheLimitAndLosesNoWords() {
        String text = "First paragraph. It has two sentences.\n\n" + "word ".repeat(300) + "\n\nLast one.";
        List<Passage> passages = new TextChunker(200).chunk("doc", text);
        assertThat(passages).allSatisfy(p -> assertThat(p.text().length()).isLessThanOrEqualTo(200));
        String joined = String.join(" ", passages.stream().map(Passage::text).toList()).replaceAll("\\s+", " ");
        assertThat(joined).isEqualTo(text.replaceAll("\\s+", " ").strip());
        assertThat(passages.get(0).index()).isZero();
        assertThat(passages.get(passages.size() - 1).text()).endsWith("Last one.");
    }

    @Test
    void semanticSearchRanksTheRelevantPassageFirst() {
        try (Encoder e = Llm.encoder().model(SharedTestData.testdata("models/all-minilm-l6-v2-q8_0.gguf")).threads(2).build()) {
            VectorIndex index = new VectorIndex(e);
            index.addAll(List.of(
                    new Passage("geo", 0, "Paris is the capital and largest city of France."),
                    new Passage("food", 0, "Pasta is cooked in boiling salted water until al dente."),
                    new Passage("space", 0, "The Moon orbits the Earth roughly every 27 days."),
                    new Passage("code", 0, "Maven builds Java projects from a pom.xml file.")));
            assertThat(index.size()).isEqualTo(4);
            assertThat(index.search("Which city is France's capital?", 2).get(0).passage().source()).isEqualTo("geo");
            assertThat(index.search("how long to boil spaghetti", 1).get(0).passage().source()).isEqualTo("food");
            List<ScoredPassage> all = index.search("build tool for Java", 4);
            assertThat(all.get(0).passage().source()).isEqualTo("code");
            assertThat(all).isSortedAccordingTo((a, b) -> Double.compare(b.score(), a.score()));
            String prompt = RagPrompt.build(all.subList(0, 1), "What builds Java?");
            assertThat(prompt).contains("Maven builds Java").endsWith("Question: What builds Java?\nAnswer:");
        }
    }
}
