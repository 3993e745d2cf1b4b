package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LaunchPlannerTest {

    @Test
    void decodeGivesLongerRowsMoreThreads() {
        LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q4_K, 4096, 4096, 1);
        assertThat(l.kernel()).isEqualTo("matvec_q4_k");
        assertThat(LaunchPlanner.threadsPerRow(4096)).as("1024 quads: as many threads as allowed").isEqualTo(128);
        assertThat(l.config()).as("a row per block").isEqualTo(new LaunchConfig(4096, 1, 128, 0));
        assertThat(LaunchPlanner.threadsPerRow(896)).as("224 quads: four warps").isEqualTo(128);
        assertThat(LaunchPlanner.threadsPerRow(512)).as("128 quads: two warps").isEqualTo(64);
        assertThat(LaunchPlanner.matVec(GgmlType.Q4_0, 4864, 512).config()).as("2 rows per block")
                .isEqualTo(new LaunchConfig(2432, 1, 128, 0));
        assertThat(LaunchPlanner.threadsPerRow(256)).as("64 quads: a warp").isEqualTo(32);
        assertThat(LaunchPlanner.threadsPerRow(1 << 16)).as("at most a block").isEqualTo(128);
        assertThat(LaunchPlanner.threadsPerRow(5)).as("a short plain row").isEqualTo(32);
        assertThatThrownBy(() -> LaunchPlanner.mulMatSplit(GgmlType.Q4_K, 4096, 1, 2)).hasMessageContaining("matVec");
    }

    @Test
    void productArgumentsFollowTheKernelsOrder() {
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs decode = LaunchPlanner.productArgs(0x1000, 504, 0x2000, 0x3000, 4864, 896, 1, 1, 0L);
            assertThat(slots(decode, arena)).as("w, rowBytes, x, y, rows, cols, threadsPerRow")
                    .containsExactly(0x1000L, 504L, 0x2000L, 0x3000L, 4864L, 896L,
                            (long) LaunchPlanner.threadsPerRow(896));
            KernelArgs prefill = LaunchPlanner.productArgs(0x1000, 504, 0x2000, 0x3000, 4864, 896, 128, 3, 0x4000);
            assertThat(slots(prefill, arena)).as("w, rowBytes, x, y, rows, cols, batch, splits, partial")
                    .containsExactly(0x1000L, 504L, 0x2000L, 0x3000L, 4864L, 896L, 128L, 3L, 0x4000L);
        }
    }

    /** Each argument's 8-byte slot as a long: the arena zeroes them, so an int's slot reads as its value. */
    private static long[] slots(KernelArgs args, Arena arena) {
        MemorySegment pointers = args.build(arena);
        long[] values = new long[args.count()];
        for (int i = 0; i < values.length; i++) {
            values[i] = pointers.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
        }
        return values;
    }

    @Test
    void smallPrefillProductsAreSplitToFillTheGpu() {
        // 896 x 896 over 128 tokens: 28 x 2 tiles for 132 multiprocessors; 28 items allow 7 ranges of 4.
        assertThat(LaunchPlanner.splits(896, 896, 128, 132, Long.MAX_VALUE)).isEqualTo(7);
        assertThat(LaunchPlanner.mulMatSplit(GgmlType.Q4_0, 896, 128, 7).config().gridY()).as("2 token tiles x 7")
                .isEqualTo(14);
        assertThat(LaunchPlanner.splits(896, 896, 128, 132, 2L * 128 * 896)).as("scratch for 2 partial sums")
                .isEqualTo(3);
        assertThat(LaunchPlanner.splits(151936, 896, 128, 132, Long.MAX_VALUE)).as("enough tiles already").isEqualTo(1);
        assertThat(LaunchPlanner.splits(896, 64, 128, 132, Long.MAX_VALUE)).as("2 items: too short to split")
                .isEqualTo(1);
        assertThat(LaunchPlanner.splits(896, 4864, 1, 132, Long.MAX_VALUE)).as("decode").isEqualTo(1);
        assertThat(LaunchPlanner.splits(64, 1 << 20, 128, 132, Long.MAX_VALUE)).as("at most 16").isEqualTo(16);
    }

    @Test
    void prefillTilesRowsByThirtyTwoAndTokensBySixtyFour() {
        LaunchPlanner.Launch l = LaunchPlanner.mulMat(GgmlType.Q8_0, 100, 64, 130);
        assertThat(l.kernel()).isEqualTo("matmul_q8_0");
        assertThat(l.config().gridY()).as("130 tokens in tiles of 64").isEqualTo(3);
        assertThat(l.config().gridX()).as("100 rows in tiles of 32").isEqualTo(4);
        assertThat(l.config().blockX()).as("a 4 x 4 sub-tile per thread").isEqualTo(32 * 64 / 16);
    }

    @Test
    void roundingLaunchesAWarpPerBlockOfActivations() {
        assertThat(LaunchPlanner.rounding(DeviceRounding.Q8_0, 512).config().threads()).as("a thread per element")
                .isEqualTo(512);
        assertThat(LaunchPlanner.rounding(DeviceRounding.Q8_K, 512).config().threads()).as("a warp per 256")
                .as("two warps, in one block of 256 threads").isEqualTo(256);
        assertThatThrownBy(() -> LaunchPlanner.rounding(DeviceRounding.Q8_K, 500)).hasMessageContaining("256");
    }

    @Test
    void formatsWithoutKernelsAreRefused() {
        assertThatThrownBy(() -> LaunchPlanner.mulMat(GgmlType.IQ4_XS, 16, 256, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("IQ4_XS");
    }

    @Test
    void batchesBeyondTheGridAreRefused() {
        assertThatThrownBy(() -> LaunchPlanner.mulMat(GgmlType.F16, 16, 64, 64 * 65535 + 1))
                .hasMessageContaining("split the batch");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "Q2_K", "Q3_K",
        "Q4_K", "Q5_K", "Q6_K"})
    void everyPlannedKernelIsInThePtx(GgmlType type) {
        String ptx = new String(PtxCatalog.load(PtxCatalog.minimumTarget()), StandardCharsets.US_ASCII);
        for (int batch : new int[] {1, 9}) {
            String kernel = LaunchPlanner.mulMat(type, 8, 64, batch).kernel();
            assertThat(ptx).as("entry %s in the PTX", kernel).contains(".visible .entry " + kernel + "(");
        }
        String together = LaunchPlanner.matVecs(type, 24, 64).kernel();
        assertThat(together).startsWith("matvecs_");
        assertThat(ptx).as("entry %s in the PTX", together).contains(".visible .entry " + together + "(");
    }

    @Test
    void theOtherKernelsAreInThePtx() {
        String ptx = new String(PtxCatalog.load(PtxCatalog.minimumTarget()), StandardCharsets.US_ASCII);
        for (String k : new String[] {"rms_norm_round", "layer_norm_round", "qkv_rope", "softmax_rows",
                "attention", "silu_mul_round", "gelu", "gelu_half", "add", "add_bias", "sum_splits"}) {
            assertThat(ptx).as("entry %s", k).contains(".visible .entry " + k + "(");
        }
    }

    @Test
    void elementwiseAndRowwiseShapes() {
        assertThat(LaunchPlanner.elementwise(1000)).isEqualTo(new LaunchConfig(4, 1, 256, 0));
        assertThat(LaunchPlanner.rowwise(7)).isEqualTo(new LaunchConfig(7, 1, 256, 0));
        assertThat(LaunchPlanner.norm(7)).as("a norm row: a whole block of threads").isEqualTo(new LaunchConfig(7, 1, 1024, 0));
        assertThat(LaunchPlanner.qkvRope(32, 8, 128, 5).threads())
                .as("at least one thread per pair of every query, key and value head and token")
                .isGreaterThanOrEqualTo((32 + 2 * 8) * 64 * 5);
        assertThat(LaunchPlanner.qkvRope(32, 8, 128, 5).gridY()).isEqualTo(5);
        assertThat(LaunchPlanner.qkvRope(1, 1, 5, 1).threads()).as("an odd head's last element has a thread")
                .isGreaterThanOrEqualTo(3 * 3);
        assertThat(LaunchPlanner.siluMulRound(DeviceRounding.Q8_K, 4864 * 2 - 512).threads())
                .as("a warp per 256-element block: eight elements a thread").isGreaterThanOrEqualTo((4864 * 2 - 512) / 8);
        assertThat(LaunchPlanner.siluMulRound(DeviceRounding.Q8_0, 4864).threads()).isGreaterThanOrEqualTo(4864);
        assertThatThrownBy(() -> LaunchPlanner.siluMulRound(DeviceRounding.Q8_0, 4870))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blocks of 32");
        assertThat(LaunchPlanner.attention(32, 7)).isEqualTo(new LaunchConfig(32, 7, 512, 0));
    }

    @Test
    void launchConfigRejectsImpossibleShapes() {
        assertThatThrownBy(() -> new LaunchConfig(1, 1, 2048, 0)).hasMessageContaining("2048 threads");
        assertThatThrownBy(() -> new LaunchConfig(0, 1, 32, 0)).hasMessageContaining("grid");
        assertThatThrownBy(() -> new LaunchConfig(1, 70000, 32, 0)).hasMessageContaining("grid");
    }
}
