// Kernels that test the emulator itself (EmulatorTest), not Isthmus: barriers, shuffles, indexing, and
// kernels that must fail. Built only into the fake driver, never into the shipped PTX.

#define EMU_FULL 0xffffffffu

// out[b] = sum of row b of n floats by a shared-memory tree halving blockDim.x (a power of two) partial
// sums, a __syncthreads between levels: a barrier that let a thread through early would change the sum.
extern "C" __global__ void emu_block_sum(const float *x, float *out, int n) {
    __shared__ float part[1024];
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        s += x[(size_t)blockIdx.x * n + i];
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            part[threadIdx.x] += part[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        out[blockIdx.x] = part[0];
    }
}

// Threads from `live` on return at once; the rest pass a __syncthreads (which must not wait for the
// returned ones) and read a neighbour's value from shared memory: out[t] = in[(t + 1) % live].
extern "C" __global__ void emu_early_return(const int *in, int *out, int live) {
    __shared__ int values[1024];
    if ((int)threadIdx.x >= live) {
        return;
    }
    values[threadIdx.x] = in[threadIdx.x];
    __syncthreads();
    out[threadIdx.x] = values[(threadIdx.x + 1) % live];
}

// Each thread t of a one-dimensional block writes what the four shuffles give it with segment `width`
// (out[5t..5t+3]: xor 5, down 3, up 2, lane 7) and the butterfly sum of in over its segment (out[5t+4]);
// wide[t] is a 64-bit xor-1 shuffle of (in << 32 | t).
extern "C" __global__ void emu_shuffles(const int *in, int *out, long long *wide, int width) {
    int t = threadIdx.x;
    int v = in[t];
    out[5 * t] = __shfl_xor_sync(EMU_FULL, v, 5, width);
    out[5 * t + 1] = __shfl_down_sync(EMU_FULL, v, 3, width);
    out[5 * t + 2] = __shfl_up_sync(EMU_FULL, v, 2, width);
    out[5 * t + 3] = __shfl_sync(EMU_FULL, v, 7, width);
    int sum = v;
    for (int o = width / 2; o > 0; o >>= 1) {
        sum += __shfl_xor_sync(EMU_FULL, sum, o, width);
    }
    out[5 * t + 4] = sum;
    wide[t] = __shfl_xor_sync(EMU_FULL, ((long long)v << 32) | t, 1);
}

// Every thread of a three-dimensional grid of three-dimensional blocks writes its built-in variables,
// 12 ints at its linear global index.
extern "C" __global__ void emu_thread_ids(int *out) {
    unsigned int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned int inBlock = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    int *o = out + 12 * ((size_t)block * blockDim.x * blockDim.y * blockDim.z + inBlock);
    unsigned int v[12] = {threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z,
                          blockDim.x, blockDim.y, blockDim.z, gridDim.x, gridDim.y, gridDim.z};
    for (int i = 0; i < 12; i++) {
        o[i] = (int)v[i];
    }
}

// Even threads wait at __syncthreads, odd ones at __syncwarp: neither barrier can complete.
extern "C" __global__ void emu_deadlock(int *out) {
    if (threadIdx.x % 2 == 0) {
        __syncthreads();
    } else {
        __syncwarp();
    }
    out[threadIdx.x] = 1;
}

// Lane 0 of each warp returns; lane 1 then shuffles from it, which CUDA leaves undefined.
extern "C" __global__ void emu_shuffle_from_returned(int *out) {
    if (threadIdx.x % 32 == 0) {
        return;
    }
    out[threadIdx.x] = __shfl_xor_sync(EMU_FULL, (int)threadIdx.x, 1);
}

// Thread 3 of block 1 traps.
extern "C" __global__ void emu_trap(int *out) {
    if (blockIdx.x == 1 && threadIdx.x == 3) {
        __trap();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}
