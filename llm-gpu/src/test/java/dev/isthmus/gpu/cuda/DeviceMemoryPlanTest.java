package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.isthmus.core.tensor.GgmlType;
import org.junit.jupiter.api.Test;

class DeviceMemoryPlanTest {

    @Test
    void nativeFormatsKeepTheirBytes() {
        DeviceMemoryPlan plan = new DeviceMemoryPlan().weight("w", GgmlType.Q4_K, 4096, 4096);
        assertThat(plan.weightBytes()).as("4096 rows of 16 Q4_K blocks").isEqualTo(4096L * 16 * 144);
        assertThat(plan.converted()).isEmpty();
    }

    @Test
    void otherFormatsAreCountedInTheirDeviceFormat() {
        DeviceMemoryPlan plan = new DeviceMemoryPlan()
                .weight("a", GgmlType.IQ4_XS, 256, 256)
                .weight("b", GgmlType.BF16, 256, 256);
        assertThat(plan.weights()).extracting(w -> w.format().device()).containsExactly(GgmlType.F16, GgmlType.F32);
        assertThat(plan.weightBytes()).isEqualTo(256L * 256 * 2 + 256L * 256 * 4);
        assertThat(plan.converted()).hasSize(2);
    }

    @Test
    void sizesAreRoundedToTheAllocationGranule() {
        DeviceMemoryPlan plan = new DeviceMemoryPlan().weight("tiny", GgmlType.Q8_0, 1, 32).scratch(1);
        assertThat(plan.weightBytes()).as("34 bytes take a 256-byte granule").isEqualTo(256);
        assertThat(plan.scratchBytes()).isEqualTo(256);
    }

    @Test
    void totalAddsWeightsKvCacheAndScratch() {
        KvCacheLayout kv = new KvCacheLayout(2, 16, 2, 8);
        DeviceMemoryPlan plan = new DeviceMemoryPlan().weight("w", GgmlType.F32, 64, 64).kvCache(kv).scratch(1000);
        assertThat(plan.totalBytes()).isEqualTo(64L * 64 * 4 + kv.totalBytes() + 1024);
    }

    @Test
    void aPlanThatDoesNotFitNamesEverySize() {
        DeviceMemoryPlan plan = new DeviceMemoryPlan().weight("w", GgmlType.F16, 1 << 20, 1024)
                .kvCache(new KvCacheLayout(1, 1024, 1, 1024));
        assertThatThrownBy(() -> plan.requireFits(100L << 20))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("2056.0 MiB").hasMessageContaining("weights 2048.0 MiB")
                .hasMessageContaining("KV cache 8.0 MiB").hasMessageContaining("100.0 MiB is free");
    }

    @Test
    void integerTypesAreNotWeights() {
        assertThatThrownBy(() -> new DeviceMemoryPlan().weight("ids", GgmlType.I32, 1, 4))
                .hasMessageContaining("I32");
    }
}
