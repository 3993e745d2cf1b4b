package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LaunchPlannerTest {

    @Test
    void decodeUsesOneWarpPerRow() {
        LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q4_K, 4096, 1);
        assertThat(l.kernel()).isEqualTo("matvec_q4_k");
        assertThat(l.config()).isEqualTo(new LaunchConfig(1024, 1, 128, 0));
    }

    @Test
    void rowsThatDoNotFillABlockStillGetOne() {
        assertThat(LaunchPlanner.mulMat(GgmlType.F32, 5, 1).config().gridX()).as("5 rows / 4 per block").isEqualTo(2);
    }

    @Test
    void prefillTilesTheBatchByEightTokens() {
        LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q8_0, 100, 17);
        assertThat(l.kernel()).isEqualTo("matmul_q8_0");
        assertThat(l.config().gridY()).as("17 tokens in tiles of 8").isEqualTo(3);
        assertThat(l.config().gridX()).isEqualTo(25);
    }

    @Test
    void formatsWithoutKernelsAreRefused() {
        assertThatThrownBy(() -> LaunchPlanner.mulMat(GgmlType.Q5_K, 16, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Q5_K");
    }

    @Test
    void batchesBeyondTheGridAreRefused() {
        assertThatThrownBy(() -> LaunchPlanner.mulMat(GgmlType.F16, 16, 8 * 65535 + 1))
                .hasMessageContaining("split the batch");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "Q4_0", "Q8_0", "Q4_K", "Q6_K"})
    void everyPlannedKernelIsInThePtx(GgmlType type) {
        String ptx = new String(PtxCatalog.load(PtxCatalog.minimumTarget()), StandardCharsets.US_ASCII);
        for (int batch : new int[] {1, 9}) {
            String kernel = LaunchPlanner.mulMat(type, 8, batch).kernel();
            assertThat(ptx).as("entry %s in the PTX", kernel).contains(".visible .entry " + kernel + "(");
        }
    }

    @Test
    void theOtherKernelsAreInThePtx() {
        String ptx = new String(PtxCatalog.load(PtxCatalog.minimumTarget()), StandardCharsets.US_ASCII);
        for (String k : new String[] {"rms_norm", "layer_norm", "rope", "softmax_rows",
                "attention", "silu_mul", "gelu", "gelu_half", "add", "add_bias", "copy_rows"}) {
            assertThat(ptx).as("entry %s", k).contains(".visible .entry " + k + "(");
        }
    }

    @Test
    void elementwiseAndRowwiseShapes() {
        assertThat(LaunchPlanner.elementwise(1000)).isEqualTo(new LaunchConfig(4, 1, 256, 0));
        assertThat(LaunchPlanner.rowwise(7)).isEqualTo(new LaunchConfig(7, 1, 256, 0));
        assertThat(LaunchPlanner.rope(32, 128, 5).threads()).as("at least one thread per pair and token")
                .isGreaterThanOrEqualTo(32 * 64 * 5);
        assertThat(LaunchPlanner.rope(32, 128, 5).gridY()).isEqualTo(5);
        assertThat(LaunchPlanner.attention(32, 7)).isEqualTo(new LaunchConfig(32, 7, 256, 0));
    }

    @Test
    void launchConfigRejectsImpossibleShapes() {
        assertThatThrownBy(() -> new LaunchConfig(1, 1, 2048, 0)).hasMessageContaining("2048 threads");
        assertThatThrownBy(() -> new LaunchConfig(0, 1, 32, 0)).hasMessageContaining("grid");
        assertThatThrownBy(() -> new LaunchConfig(1, 70000, 32, 0)).hasMessageContaining("grid");
    }
}
