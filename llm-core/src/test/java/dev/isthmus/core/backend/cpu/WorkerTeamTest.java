package dev.isthmus.core.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerTeamTest {

    @Test
    void everyChunkRunsExactlyOnce() {
        try (WorkerTeam team = new WorkerTeam(2, "test")) {
            for (int count = 0; count < 200; count++) {
                AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(1, count));
                team.run(count, runs::incrementAndGet);
                for (int i = 0; i < count; i++) {
                    assertThat(runs.get(i)).as("chunk %d of %d", i, count).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void aFailingChunkIsRethrownAndTheTeamStaysUsable() {
        try (WorkerTeam team = new WorkerTeam(1, "test")) {
            AtomicIntegerArray runs = new AtomicIntegerArray(16);
            assertThatThrownBy(() -> team.run(16, i -> {
                runs.incrementAndGet(i);
                if (i == 5) {
                    throw new IllegalStateException("chunk 5");
                }
            })).isInstanceOf(IllegalStateException.class).hasMessage("chunk 5");
            for (int i = 0; i < 16; i++) {
                assertThat(runs.get(i)).as("chunk %d still ran", i).isEqualTo(1);
            }
            AtomicIntegerArray again = new AtomicIntegerArray(8);
            team.run(8, again::incrementAndGet);
            assertThat(again.toString()).isEqualTo("[1, 1, 1, 1, 1, 1, 1, 1]");
        }
    }

    @Test
    void nestedAndConcurrentCallsRunTheirChunksInline() throws Exception {
        try (WorkerTeam team = new WorkerTeam(1, "test")) {
            AtomicIntegerArray inner = new AtomicIntegerArray(4 * 8);
            team.run(4, i -> team.run(8, j -> inner.incrementAndGet(i * 8 + j)));
            for (int i = 0; i < inner.length(); i++) {
                assertThat(inner.get(i)).as("nested chunk %d", i).isEqualTo(1);
            }
            AtomicIntegerArray runs = new AtomicIntegerArray(2 * 1000);
            CountDownLatch start = new CountDownLatch(1);
            Thread[] callers = new Thread[2];
            for (int c = 0; c < 2; c++) {
                int base = c * 1000;
                callers[c] = Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int rep = 0; rep < 100; rep++) {
                        int from = base + rep * 10;
                        team.run(10, i -> runs.incrementAndGet(from + i));
                    }
                });
            }
            start.countDown();
            for (Thread t : callers) {
                t.join();
            }
            for (int i = 0; i < runs.length(); i++) {
                assertThat(runs.get(i)).as("concurrent chunk %d", i).isEqualTo(1);
            }
        }
    }
}
