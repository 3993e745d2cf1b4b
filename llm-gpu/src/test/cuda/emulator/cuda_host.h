// Host emulation of the CUDA kernel dialect kernels.cu is written in, so that the real kernels run on the
// CPU inside the fake driver (fake_cuda.cpp). Include in exactly one translation unit: it defines the
// scheduler's state and the fiber switch (global asm).
//
// Model: every CUDA thread of a block is a fiber on the launching OS thread. A scheduler runs the block's
// fibers round-robin; a fiber gives up the CPU only at a barrier (__syncthreads, __syncwarp, a shuffle)
// or when it returns, so between barriers each thread runs alone and in order. Blocks run one after the
// other, which is what lets __shared__ be a plain `static`. A barrier no thread can pass (some threads at
// __syncthreads, their warp-mates at a shuffle) is reported as a launch error instead of hanging.
//
// What this cannot show: races (threads never run at the same time), memory-model bugs, timing, and the
// device's rounding (nvcc fuses a*b+c into FMA, g++ for plain x86-64 does not; expf/rsqrtf/tanhf differ by
// a few ulps). A thread that spins waiting for another thread's write never yields and hangs.
#pragma once

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#if !defined(__x86_64__)
#error "the CUDA host emulator's fiber switch is written for x86-64"
#endif

// ---- the dialect -------------------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Blocks run one at a time, so block-shared memory can be one static array (a kernel using
// `extern __shared__` dynamic shared memory fails to compile here: that is not emulated).
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
    unsigned int x, y, z;
};

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x = 1, unsigned int y = 1, unsigned int z = 1) : x(x), y(y), z(z) {
    }
};

// The built-in variables: globals the scheduler rewrites before it resumes a fiber.
inline uint3 threadIdx;
inline uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
constexpr int warpSize = 32;

// CUDA's integer and float min/max overloads (device code calls them unqualified).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __fdividef(float a, float b) { return a / b; }
template <class T>
inline T __ldg(const T *p) { return *p; }
// Four signed byte products summed, plus c (the PTX dp4a.s32.s32 instruction).
inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) {
        c += (int)(signed char)(a >> 8 * i) * (int)(signed char)(b >> 8 * i);
    }
    return c;
}
// No two threads run at once, so a read-modify-write is atomic as it stands.
template <class T>
inline T atomicAdd(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}

// ---- fibers --------------------------------------------------------------------------------------------

// isthmus_fiber_switch(save, to): pushes the callee-saved registers (rbp, rbx, r12-r15) on the current
// stack, stores rsp in *save, loads rsp = to, pops the other fiber's registers and returns into it. Being
// an ordinary call, the compiler has already saved every caller-saved register and treats memory as
// clobbered. MXCSR and the x87 control word are not switched: no kernel changes the float environment.
//
// isthmus_fiber_trampoline: where a new fiber's first switch returns to (see initial_frame); it calls
// isthmus_fiber_main with rsp 16-byte aligned, as the ABI wants at a call, and never returns.
asm(R"(
    .pushsection .text
    .globl isthmus_fiber_switch
    .hidden isthmus_fiber_switch
    .type isthmus_fiber_switch, @function
isthmus_fiber_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size isthmus_fiber_switch, .-isthmus_fiber_switch

    .globl isthmus_fiber_trampoline
    .hidden isthmus_fiber_trampoline
    .type isthmus_fiber_trampoline, @function
isthmus_fiber_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    call isthmus_fiber_main
    ud2
    .cfi_endproc
    .size isthmus_fiber_trampoline, .-isthmus_fiber_trampoline
    .popsection
)");

extern "C" void isthmus_fiber_switch(void **save, void *to);
extern "C" void isthmus_fiber_trampoline();
extern "C" [[noreturn]] void isthmus_fiber_main();

namespace isthmus_emu {

constexpr int kWarp = 32;
constexpr int kMaxThreads = 1024;
constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kGuardBytes = 4096;

enum class FiberState : uint8_t { Runnable, AtBlockBarrier, AtWarpBarrier, Exited, Faulted };

struct Fiber {
    void *sp;
    FiberState state;
    uint32_t shuffles; // shuffles this thread has done in the block
    uint3 idx;
};

// A value a lane published for a shuffle, tagged with which of the lane's shuffles it belongs to.
struct Slot {
    uint64_t bits;
    uint32_t shuffle;
};

// Runs a grid block by block. The state of the block being run lives here; one launch at a time (the
// driver holds a lock around launches).
//
// Runnable fibers wait in a FIFO queue. A fiber that blocks switches straight to the next one in the queue
// (one switch, not two through the scheduler); the last to arrive at a barrier queues the waiters and goes
// on. Control returns to the scheduler's own stack only when the queue is empty: the block is done, or
// every live thread waits at a barrier that cannot complete (deadlock).
class Scheduler {
public:
    // Runs body(arg) as every thread of every block. False on a deadlock or a fault inside the kernel;
    // error() says what happened.
    bool run(dim3 grid, dim3 block, void (*body)(void *), void *arg, const char *kernel) {
        body_ = body;
        arg_ = arg;
        kernel_ = kernel;
        error_[0] = 0;
        failed_ = false;
        threads_ = (int)(block.x * block.y * block.z);
        if (!reserve_stacks(threads_)) {
            fail_outside("cannot map %d fiber stacks of %zu KiB", threads_, kStackBytes / 1024);
            return false;
        }
        gridDim = grid;
        blockDim = block;
        for (unsigned int z = 0; z < grid.z; z++) {
            for (unsigned int y = 0; y < grid.y; y++) {
                for (unsigned int x = 0; x < grid.x; x++) {
                    blockIdx = uint3{x, y, z};
                    if (!run_block()) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    const char *error() const {
        return error_;
    }

    // __syncthreads: waits for every thread of the block that has not returned.
    void sync_block() {
        asm volatile("" ::: "memory");
        if (++block_arrived_ == block_live_) {
            release_block();
            return; // the last to arrive goes on; the others follow from the queue
        }
        wait(FiberState::AtBlockBarrier);
    }

    // __syncwarp: waits for every thread of the caller's warp that has not returned.
    void sync_warp(unsigned int mask, const char *op) {
        asm volatile("" ::: "memory");
        int w = current_ / kWarp;
        check_mask(mask, w, op);
        if (++warp_arrived_[w] == warp_count_[w]) {
            release_warp(w);
            return;
        }
        wait(FiberState::AtWarpBarrier);
    }

    // One shuffle: every live lane of the warp publishes `bits`, a warp barrier, then each reads lane `src`
    // of its warp (or keeps its own value when src < 0). One barrier suffices because consecutive shuffles
    // alternate between two slot arrays: a lane can write this array again only at the shuffle after next,
    // past the next shuffle's barrier, which needs every lane — so every read of this shuffle — first.
    uint64_t exchange(unsigned int mask, uint64_t bits, int src, const char *op) {
        Fiber &f = fibers_[current_];
        uint32_t k = f.shuffles++;
        Slot *slots = slots_[k & 1];
        slots[current_] = Slot{bits, k};
        sync_warp(mask, op);
        if (src < 0) {
            return bits;
        }
        int lane = current_ % kWarp;
        int from = current_ - lane + src;
        if (from >= threads_ || slots[from].shuffle != k) {
            fault("%s: lane %d reads lane %d, which %s", op, lane, src,
                  from >= threads_ ? "is past the end of the block" : "returned before this shuffle");
        }
        return slots[from].bits;
    }

    // Stops the launch from inside a kernel (the fiber is never resumed).
    [[noreturn]] __attribute__((format(printf, 2, 3))) void fault(const char *format, ...) {
        int n = snprintf(error_, sizeof error_, "%s, block (%u,%u,%u), thread (%u,%u,%u): ", kernel_, blockIdx.x,
                         blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
        va_list args;
        va_start(args, format);
        vsnprintf(error_ + n, sizeof error_ - n, format, args);
        va_end(args);
        failed_ = true;
        fibers_[current_].state = FiberState::Faulted;
        isthmus_fiber_switch(&fibers_[current_].sp, scheduler_sp_);
        __builtin_unreachable();
    }

    // The current fiber's kernel returned.
    [[noreturn]] void exit_current() {
        Fiber &f = fibers_[current_];
        f.state = FiberState::Exited;
        block_live_--;
        int w = current_ / kWarp;
        warp_live_[w] &= ~(1u << (current_ % kWarp));
        warp_count_[w]--;
        // A barrier that waited only for this thread is now complete.
        if (block_arrived_ > 0 && block_arrived_ == block_live_) {
            release_block();
        }
        if (warp_arrived_[w] > 0 && warp_arrived_[w] == warp_count_[w]) {
            release_warp(w);
        }
        switch_to_next(&f.sp);
        __builtin_unreachable();
    }

    void run_body() {
        body_(arg_);
    }

private:
    bool run_block() {
        block_live_ = threads_;
        block_arrived_ = 0;
        int warps = (threads_ + kWarp - 1) / kWarp;
        for (int w = 0; w < warps; w++) {
            int lanes = threads_ - w * kWarp < kWarp ? threads_ - w * kWarp : kWarp;
            warp_live_[w] = lanes == kWarp ? 0xffffffffu : (1u << lanes) - 1u;
            warp_count_[w] = lanes;
            warp_arrived_[w] = 0;
        }
        head_ = 0;
        queued_ = 0;
        for (int t = 0; t < threads_; t++) {
            Fiber &f = fibers_[t];
            f.sp = initial_frame(stack_top(t));
            f.state = FiberState::Runnable;
            f.shuffles = 0;
            f.idx = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
            slots_[0][t].shuffle = slots_[1][t].shuffle = UINT32_MAX;
            push(t);
        }
        switch_to_next(&scheduler_sp_); // back when no fiber is runnable
        if (failed_) {
            return false;
        }
        if (block_live_ > 0) {
            report_deadlock();
            return false;
        }
        return true;
    }

    void wait(FiberState state) {
        Fiber &f = fibers_[current_];
        f.state = state;
        switch_to_next(&f.sp);
    }

    // Saves the running context in *save and resumes the next runnable fiber, or the scheduler if none.
    void switch_to_next(void **save) {
        if (queued_ == 0) {
            isthmus_fiber_switch(save, scheduler_sp_);
            return;
        }
        int next = queue_[head_];
        head_ = (head_ + 1) % kMaxThreads;
        queued_--;
        current_ = next;
        threadIdx = fibers_[next].idx;
        isthmus_fiber_switch(save, fibers_[next].sp);
    }

    void push(int t) {
        queue_[(head_ + queued_) % kMaxThreads] = t;
        queued_++;
    }

    void release(FiberState state, int from, int to) {
        for (int t = from; t < to; t++) {
            if (fibers_[t].state == state) {
                fibers_[t].state = FiberState::Runnable;
                push(t);
            }
        }
    }

    void release_block() {
        release(FiberState::AtBlockBarrier, 0, threads_);
        block_arrived_ = 0;
    }

    void release_warp(int w) {
        int end = (w + 1) * kWarp < threads_ ? (w + 1) * kWarp : threads_;
        release(FiberState::AtWarpBarrier, w * kWarp, end);
        warp_arrived_[w] = 0;
    }

    // Every live lane must take part: narrower masks (divergent warps) are not emulated.
    void check_mask(unsigned int mask, int w, const char *op) {
        int lane = current_ % kWarp;
        if (!(mask >> lane & 1u)) {
            fault("%s: the calling lane %d is not in mask 0x%08x", op, lane, mask);
        }
        if (warp_live_[w] & ~mask) {
            fault("%s: mask 0x%08x leaves out live lanes 0x%08x (partial-warp masks are not emulated)", op, mask,
                  warp_live_[w] & ~mask);
        }
    }

    void report_deadlock() {
        int atBlock = 0;
        int atWarp = 0;
        int exited = 0;
        for (int t = 0; t < threads_; t++) {
            atBlock += fibers_[t].state == FiberState::AtBlockBarrier;
            atWarp += fibers_[t].state == FiberState::AtWarpBarrier;
            exited += fibers_[t].state == FiberState::Exited;
        }
        snprintf(error_, sizeof error_,
                 "%s, block (%u,%u,%u) of %d threads: deadlock: %d wait at __syncthreads, %d at a warp barrier "
                 "(shuffle or __syncwarp), %d returned; no barrier can complete",
                 kernel_, blockIdx.x, blockIdx.y, blockIdx.z, threads_, atBlock, atWarp, exited);
    }

    __attribute__((format(printf, 2, 3))) void fail_outside(const char *format, ...) {
        va_list args;
        va_start(args, format);
        vsnprintf(error_, sizeof error_, format, args);
        va_end(args);
        failed_ = true;
    }

    // Fiber stacks are mapped once (growing to the largest block seen) and reused by every block; each has
    // an inaccessible guard page below it, so an overflow faults instead of corrupting its neighbour.
    bool reserve_stacks(int threads) {
        if (threads <= stack_count_) {
            return true;
        }
        if (stacks_ != nullptr) {
            munmap(stacks_, (size_t)stack_count_ * (kStackBytes + kGuardBytes));
            stacks_ = nullptr;
            stack_count_ = 0;
        }
        size_t bytes = (size_t)threads * (kStackBytes + kGuardBytes);
        void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            return false;
        }
        stacks_ = (char *)p;
        stack_count_ = threads;
        for (int t = 0; t < threads; t++) {
            mprotect(stacks_ + (size_t)t * (kStackBytes + kGuardBytes), kGuardBytes, PROT_NONE);
        }
        return true;
    }

    // Stack tops are staggered by a cache line per thread: at one page-aligned offset, every fiber's hot
    // frames would fall into the same few L1 cache sets.
    char *stack_top(int t) {
        return stacks_ + (size_t)(t + 1) * (kStackBytes + kGuardBytes) - (size_t)(t % 64) * 64;
    }

    // A fresh fiber's stack as isthmus_fiber_switch expects to find it: six zeroed callee-saved registers,
    // then the trampoline as return address. After the pops and the ret, rsp = top - 16, a multiple of 16,
    // so the trampoline's call enters isthmus_fiber_main with the ABI's alignment.
    static void *initial_frame(char *top) {
        uint64_t *sp = (uint64_t *)(top - 72);
        for (int i = 0; i < 6; i++) {
            sp[i] = 0;
        }
        sp[6] = (uint64_t)(uintptr_t)&isthmus_fiber_trampoline;
        return sp;
    }

    Fiber fibers_[kMaxThreads];
    Slot slots_[2][kMaxThreads];
    int queue_[kMaxThreads]; // runnable fibers, FIFO ring
    int head_ = 0;
    int queued_ = 0;
    uint32_t warp_live_[kMaxThreads / kWarp];  // lanes that have not returned
    int warp_count_[kMaxThreads / kWarp];      // how many
    int warp_arrived_[kMaxThreads / kWarp];
    int block_live_ = 0;
    int block_arrived_ = 0;
    int threads_ = 0;
    int current_ = 0;
    void *scheduler_sp_ = nullptr;
    char *stacks_ = nullptr;
    int stack_count_ = 0;
    void (*body_)(void *) = nullptr;
    void *arg_ = nullptr;
    const char *kernel_ = "";
    bool failed_ = false;
    char error_[512];
};

inline Scheduler scheduler;

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 64 bits");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    return bits;
}

template <class T>
inline T from_bits(uint64_t bits) {
    T v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

// The caller's lane: warps are runs of 32 consecutive linear thread indices, as on a GPU.
inline int lane_id() {
    int t = (int)(threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y);
    return t % kWarp;
}

} // namespace isthmus_emu

// Every fiber's first and only frame below the trampoline; `used` because only the asm calls it.
extern "C" [[noreturn]] __attribute__((used)) void isthmus_fiber_main() {
    isthmus_emu::scheduler.run_body();
    isthmus_emu::scheduler.exit_current();
}

// ---- barriers and shuffles -----------------------------------------------------------------------------

inline void __syncthreads() {
    isthmus_emu::scheduler.sync_block();
}

inline void __syncwarp(unsigned int mask = 0xffffffffu) {
    isthmus_emu::scheduler.sync_warp(mask, "__syncwarp");
}

// The four shuffles read lane src of the caller's warp, which `width` splits into segments of that many
// lanes, or keep their own value where CUDA says so (a source past the segment's end, or before its start).
template <class T>
inline T __shfl_sync(unsigned int mask, T var, int srcLane, int width = warpSize) {
    int lane = isthmus_emu::lane_id();
    int src = (lane & ~(width - 1)) + (srcLane & (width - 1));
    return isthmus_emu::from_bits<T>(isthmus_emu::scheduler.exchange(mask, isthmus_emu::to_bits(var), src, "__shfl_sync"));
}

template <class T>
inline T __shfl_xor_sync(unsigned int mask, T var, int laneMask, int width = warpSize) {
    int lane = isthmus_emu::lane_id();
    int src = lane ^ laneMask;
    int segmentEnd = (lane & ~(width - 1)) + width;
    return isthmus_emu::from_bits<T>(isthmus_emu::scheduler.exchange(mask, isthmus_emu::to_bits(var),
                                                                     src < segmentEnd ? src : -1, "__shfl_xor_sync"));
}

template <class T>
inline T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    int lane = isthmus_emu::lane_id();
    int src = lane + (int)delta;
    int segmentEnd = (lane & ~(width - 1)) + width;
    return isthmus_emu::from_bits<T>(isthmus_emu::scheduler.exchange(mask, isthmus_emu::to_bits(var),
                                                                     src < segmentEnd ? src : -1, "__shfl_down_sync"));
}

template <class T>
inline T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    int lane = isthmus_emu::lane_id();
    int src = lane - (int)delta;
    int segmentStart = lane & ~(width - 1);
    return isthmus_emu::from_bits<T>(isthmus_emu::scheduler.exchange(mask, isthmus_emu::to_bits(var),
                                                                     src >= segmentStart ? src : -1, "__shfl_up_sync"));
}

// A device-side trap ends the launch with an error.
[[noreturn]] inline void __trap() {
    isthmus_emu::scheduler.fault("__trap()");
}
