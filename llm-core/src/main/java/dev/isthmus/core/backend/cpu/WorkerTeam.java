package dev.isthmus.core.backend.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of worker threads for many short parallel steps in a row (the projections of an encoder
 * layer): the caller takes part, chunks are handed out one at a time from a shared counter (so a worker that
 * the OS has not scheduled yet costs nothing but its share), and idle workers spin for a short while before
 * they park, so back-to-back steps start without a wake-up. One job runs at a time; a caller that finds the
 * team busy — another thread's job, or a nested call from inside a chunk — runs its chunks itself.
 */
final class WorkerTeam implements AutoCloseable {
    /** How long idle workers and a waiting caller spin before they park. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(100);

    /** The work of one chunk. */
    @FunctionalInterface
    interface Chunk {
        void run(int index);
    }

    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile Job current;
    private volatile boolean closed;

    /** A team of {@code helpers} worker threads besides the calling thread. */
    WorkerTeam(int helpers, String name) {
        workers = new Worker[helpers];
        for (int i = 0; i < helpers; i++) {
            workers[i] = new Worker();
            workers[i].thread = Thread.ofPlatform().daemon().name(name + "-" + i).unstarted(workers[i]::loop);
        }
        for (Worker w : workers) {
            w.thread.start();
        }
    }

    /**
     * Runs {@code body} for every chunk index in {@code [0, count)} on the team and the calling thread, and returns
     * when all have finished. The first exception thrown by a chunk is rethrown (the other chunks still run).
     */
    void run(int count, Chunk body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || workers.length == 0 || closed || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < count; i++) {
                body.run(i);
            }
            return;
        }
        Job job = new Job(body, count, Thread.currentThread());
        try {
            current = job;
            for (Worker w : workers) {
                if (w.sleeping) {
                    w.sleeping = false;
                    LockSupport.unpark(w.thread);
                }
            }
            job.drain();
            if (job.done.get() < count) {
                long start = System.nanoTime();
                for (int spins = 0; job.done.get() < count; spins++) {
                    Thread.onSpinWait();
                    if ((spins & 63) == 0 && System.nanoTime() - start > SPIN_NANOS) {
                        job.callerParked = true;
                        while (job.done.get() < count) {
                            LockSupport.park(this);
                        }
                    }
                }
            }
        } finally {
            current = null;
            busy.set(false);
        }
        Throwable failure = job.failure;
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
        for (Worker w : workers) {
            try {
                w.thread.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static final class Job {
        final Chunk body;
        final int count;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile boolean callerParked;
        volatile Throwable failure;

        Job(Chunk body, int count, Thread caller) {
            this.body = body;
            this.count = count;
            this.caller = caller;
        }

        void drain() {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                try {
                    body.run(i);
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                }
                if (done.incrementAndGet() == count && callerParked) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    private final class Worker {
        Thread thread;
        volatile boolean sleeping;

        void loop() {
            Job seen = null;
            while (!closed) {
                Job job = current;
                if (job != null && job != seen) {
                    seen = job;
                    job.drain();
                    continue;
                }
                long start = System.nanoTime();
                for (int spins = 0; ; spins++) {
                    Thread.onSpinWait();
                    job = current;
                    if ((job != null && job != seen) || closed) {
                        break;
                    }
                    if ((spins & 63) == 0 && System.nanoTime() - start > SPIN_NANOS) {
                        // Announce the nap, then look once more: a job published before the flag was seen is
                        // caught here, one published after it unparks this thread.
                        sleeping = true;
                        job = current;
                        if ((job == null || job == seen) && !closed) {
                            LockSupport.park(this);
                        }
                        sleeping = false;
                        break;
                    }
                }
            }
        }
    }
}
