package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.isthmus.core.tensor.GgmlType;
import java.util.List;
import org.junit.jupiter.api.Test;

class PtxCatalogTest {

    @Test
    void picksTheHighestTargetNotAboveTheGpu() {
        List<Integer> targets = List.of(75, 80, 90);
        assertThat(PtxCatalog.select(targets, 86)).hasValue(80);
        assertThat(PtxCatalog.select(targets, 90)).hasValue(90);
        assertThat(PtxCatalog.select(targets, 120)).hasValue(90);
        assertThat(PtxCatalog.select(targets, 70)).as("Volta is below every target").isEmpty();
    }

    @Test
    void shippedPtxIsNulTerminatedText() {
        byte[] ptx = PtxCatalog.load(PtxCatalog.minimumTarget());
        assertThat(ptx[ptx.length - 1]).as("cuModuleLoadData reads a C string").isZero();
        assertThat(new String(ptx, 0, 200, java.nio.charset.StandardCharsets.US_ASCII)).contains(".version");
    }

    @Test
    void deviceFormats() {
        assertThat(DeviceFormat.of(GgmlType.Q6_K).converted()).isFalse();
        assertThat(DeviceFormat.of(GgmlType.IQ4_XS).device()).isEqualTo(GgmlType.F16);
        assertThat(DeviceFormat.of(GgmlType.BF16).device()).as("BF16's range exceeds F16's").isEqualTo(GgmlType.F32);
        assertThat(DeviceFormat.of(GgmlType.Q4_0).deviceRowBytes(64)).isEqualTo(36);
    }

    @Test
    void scratchGrowsByDoublingToWholeGranules() {
        assertThat(CudaBackend.grow(0, 100)).isEqualTo(256);
        assertThat(CudaBackend.grow(256, 300)).isEqualTo(512);
        assertThat(CudaBackend.grow(512, 5000)).isEqualTo(5120);
    }
}
