package dev.isthmus.gpu.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.isthmus.core.backend.Backend;
import dev.isthmus.core.backend.BackendProvider;
import dev.isthmus.core.backend.Backends;
import org.junit.jupiter.api.Test;

/** Without a driver, CUDA is a registered but unavailable backend with a reason — never an error. */
class CudaAvailabilityTest {

    @Test
    void aMissingDriverLibraryIsUnavailableWithItsName() {
        CudaProbe p = CudaProbe.probe("libisthmus-no-such-cuda.so.1");
        assertThat(p.available()).isFalse();
        assertThat(p.reason()).contains("libisthmus-no-such-cuda.so.1").contains("NVIDIA driver");
        assertThat(p.devices()).isEmpty();
    }

    @Test
    void theProviderIsRegisteredAboveTheCpu() {
        assertThat(Backends.providers()).extracting(BackendProvider::name).contains("cuda", "cpu");
        assertThat(Backends.providers().getFirst().name()).as("highest priority first").isEqualTo("cuda");
    }

    @Test
    void probingTheSystemNeverThrowsAndExplainsItself() {
        CudaProbe p = CudaProbe.system();
        assertThat(p.available() || !p.reason().isEmpty()).as("unavailable needs a reason: %s", p).isTrue();
        assertThat(new CudaBackendProvider().unavailableReason()).isNotBlank();
    }

    @Test
    void creatingCudaWithoutAGpuFailsNamingTheReason() {
        assumeFalse(CudaProbe.system().available(), "this machine has a usable GPU");
        String reason = CudaProbe.system().reason();
        assertThatThrownBy(() -> Backends.create("cuda", 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'cuda' is unavailable").hasMessageContaining(reason);
        assertThatThrownBy(() -> new CudaBackendProvider().create(1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining(reason);
    }

    @Test
    void theBestAvailableBackendFallsBackToTheCpu() {
        assumeFalse(CudaProbe.system().available(), "this machine has a usable GPU");
        try (Backend b = Backends.create(null, 1)) {
            assertThat(b.name()).isEqualTo("cpu");
        }
    }

    @Test
    void driverVersionsPrintAsMajorMinor() {
        assertThat(CudaProbe.versionString(12040)).isEqualTo("12.4");
        assertThat(CudaProbe.versionString(13000)).isEqualTo("13.0");
    }
}
