// Isthmus CUDA kernels. Compiled to PTX (see compile-kernels.sh) and loaded with cuModuleLoadData, so
// users need a driver but no toolkit. Every entry point is extern "C" so its PTX name is the Java name.
//
// Layout conventions shared with dev.isthmus.gpu.cuda: matrices are row-major; a weight matrix is
// `rows` rows of `rowBytes` bytes each in its GGUF block format; activations are `batch` vectors of
// `cols` floats, back to back; results are `batch` vectors of `rows` floats.
#include "dequant.cuh"

#define WARP 32

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ uint32_t isthmus_float_bits(float f) {
    union { float f; uint32_t u; } v;
    v.f = f;
    return v.u;
}

__device__ __forceinline__ float isthmus_bits_float(uint32_t u) {
    union { uint32_t u; float f; } v;
    v.u = u;
    return v.f;
}

// Float to IEEE half bits, round to nearest-even (Java's Float.floatToFloat16), without cuda_fp16.h so the
// host build of the kernels computes the same.
__device__ __forceinline__ uint16_t isthmus_float_to_half(float f) {
    uint32_t x = isthmus_float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) {
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x47800000u) {
        return (uint16_t)(sign | 0x7c00u); // 65536 and up (and infinity)
    }
    uint32_t r;
    uint32_t rem;
    uint32_t halfway;
    if (a < 0x38800000u) {
        // Below the smallest normal half: a multiple of 2^-24, from the 24-bit significand.
        int e = (int)(a >> 23);
        if (e < 102) {
            return (uint16_t)sign; // below 2^-25: rounds to zero
        }
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - e;
        r = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1);
    } else {
        uint32_t rebiased = a - 0x38000000u; // exponent bias 127 -> 15
        r = rebiased >> 13;
        rem = rebiased & 0x1fffu;
        halfway = 0x1000u;
    }
    if (rem > halfway || (rem == halfway && (r & 1u))) {
        r++;
    }
    return (uint16_t)(sign | r);
}

__device__ __forceinline__ float isthmus_round_half(float f) {
    return isthmus_half_to_float(isthmus_float_to_half(f));
}

// Sum of a block's values, the result visible to all threads. `scratch` holds one float per warp.
__device__ float block_sum(float v, float *scratch) {
    int lane = threadIdx.x % WARP;
    int warp = threadIdx.x / WARP;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    int warps = (blockDim.x + WARP - 1) / WARP;
    float total = 0.0f;
    for (int i = 0; i < warps; i++) {
        total += scratch[i];
    }
    return total;
}

__device__ float block_max(float v, float *scratch) {
    int lane = threadIdx.x % WARP;
    int warp = threadIdx.x / WARP;
    for (int o = WARP / 2; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    int warps = (blockDim.x + WARP - 1) / WARP;
    float m = -INFINITY;
    for (int i = 0; i < warps; i++) {
        m = fmaxf(m, scratch[i]);
    }
    return m;
}

// Rows of plain (F32/F16) weights can end inside an item; block formats always hold whole items.
#define ISTHMUS_PLAIN(TYPE) ((TYPE) == ISTHMUS_F32 || (TYPE) == ISTHMUS_F16)

// Decode (one activation vector): `threadsPerRow` threads (32, 64 or 128: a warp or more, so a warp
// never spans two rows) per weight row, several rows per block. Threads take consecutive 4-element quads,
// so a warp reads neighbouring items of weights and activations, both coalesced. Decode is bound by memory
// latency: each thread loads MV_BATCH quads before using any, and rows get threads in proportion to their
// length, so that every row needs about the same few round trips to memory.
#define MV_BATCH 4
template <int TYPE>
__device__ __forceinline__ void mat_vec(const uint8_t *__restrict__ w, long long rowBytes,
                                        const float *__restrict__ x, float *__restrict__ y, int rows, int cols,
                                        int threadsPerRow) {
    __shared__ float partial[32];
    int local = threadIdx.x / threadsPerRow;
    int t = threadIdx.x % threadsPerRow;
    int row = blockIdx.x * (blockDim.x / threadsPerRow) + local;
    float acc = 0.0f;
    if (row < rows) {
        const uint8_t *r = w + (size_t)row * rowBytes;
        int quads = isthmus_items(cols) * ISTHMUS_QUADS_PER_ITEM;
        for (int q0 = t; q0 < quads; q0 += threadsPerRow * MV_BATCH) {
            float v[MV_BATCH][ISTHMUS_QUAD];
            float xv[MV_BATCH][ISTHMUS_QUAD];
#pragma unroll
            for (int u = 0; u < MV_BATCH; u++) {
                int q = q0 + u * threadsPerRow;
                if (q < quads) {
                    int item = q / ISTHMUS_QUADS_PER_ITEM;
                    int e = (q % ISTHMUS_QUADS_PER_ITEM) * ISTHMUS_QUAD;
                    isthmus_decode_quad(TYPE, r, item, e, cols, v[u]);
                    int base = item * ISTHMUS_ITEM + e;
#pragma unroll
                    for (int i = 0; i < ISTHMUS_QUAD; i++) {
                        xv[u][i] = (!ISTHMUS_PLAIN(TYPE) || base + i < cols) ? x[base + i] : 0.0f;
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < ISTHMUS_QUAD; i++) {
                        v[u][i] = 0.0f;
                        xv[u][i] = 0.0f;
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < MV_BATCH; u++) {
#pragma unroll
                for (int i = 0; i < ISTHMUS_QUAD; i++) {
                    acc += v[u][i] * xv[u][i];
                }
            }
        }
    }
    acc = warp_sum(acc);
    if (threadsPerRow == WARP) {
        if (t == 0 && row < rows) {
            y[row] = acc;
        }
        return; // the same for every thread of the launch: no barrier follows
    }
    int warpsPerRow = threadsPerRow / WARP;
    if (threadIdx.x % WARP == 0) {
        partial[threadIdx.x / WARP] = acc;
    }
    __syncthreads();
    if (t == 0 && row < rows) {
        float total = 0.0f;
        for (int i = 0; i < warpsPerRow; i++) {
            total += partial[local * warpsPerRow + i];
        }
        y[row] = total;
    }
}

// Prefill (several activation vectors): a block computes a tile of MM_ROWS weight rows x MM_TOKENS tokens.
// Per item (32 columns) it decodes the weights once into shared memory and stages the activations there,
// then each thread accumulates a 4 x 4 sub-tile, so every decoded weight serves 64 tokens from registers.
// Small matrices make too few tiles to fill the GPU, so the columns can be split in `splits` ranges
// (grid y = token tiles x splits): split s > 0 writes its partial sums to partial + (s - 1) * batch * rows
// and sum_splits adds them to y in order, so results do not depend on scheduling.
#define MM_ROWS 32
#define MM_TOKENS 64
#define MM_THREADS 128
#define MM_SUB 4

template <int TYPE>
__device__ __forceinline__ void mat_mul(const uint8_t *__restrict__ w, long long rowBytes,
                                        const float *__restrict__ x, float *__restrict__ y,
                                        int rows, int cols, int batch, int splits,
                                        float *partial) {
    // +4 keeps each row of the tiles 16-byte aligned for vector loads.
    __shared__ __align__(16) float ws[ISTHMUS_ITEM][MM_ROWS + 4];
    __shared__ __align__(16) float xs[ISTHMUS_ITEM][MM_TOKENS + 4];
    int tid = threadIdx.x;
    int tiles = (batch + MM_TOKENS - 1) / MM_TOKENS;
    int split = blockIdx.y / tiles;
    int row0 = blockIdx.x * MM_ROWS;
    int tok0 = (blockIdx.y % tiles) * MM_TOKENS;
    int subRow = (tid % (MM_ROWS / MM_SUB)) * MM_SUB;
    int subTok = (tid / (MM_ROWS / MM_SUB)) * MM_SUB;
    float acc[MM_SUB][MM_SUB];
#pragma unroll
    for (int i = 0; i < MM_SUB; i++) {
#pragma unroll
        for (int j = 0; j < MM_SUB; j++) {
            acc[i][j] = 0.0f;
        }
    }
    int items = isthmus_items(cols);
    int perSplit = (items + splits - 1) / splits;
    int firstItem = split * perSplit;
    int endItem = min(items, firstItem + perSplit);
    if (split > 0) {
        y = partial + (size_t)(split - 1) * batch * rows;
    }
    for (int it = firstItem; it < endItem; it++) {
#pragma unroll
        for (int s = 0; s < MM_ROWS * ISTHMUS_QUADS_PER_ITEM / MM_THREADS; s++) {
            int q = tid + s * MM_THREADS;
            int r = q / ISTHMUS_QUADS_PER_ITEM;
            int e = (q % ISTHMUS_QUADS_PER_ITEM) * ISTHMUS_QUAD;
            float v[ISTHMUS_QUAD] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (row0 + r < rows) {
                isthmus_decode_quad(TYPE, w + (size_t)(row0 + r) * rowBytes, it, e, cols, v);
            }
#pragma unroll
            for (int i = 0; i < ISTHMUS_QUAD; i++) {
                ws[e + i][r] = v[i];
            }
        }
#pragma unroll
        for (int s = 0; s < MM_TOKENS * ISTHMUS_ITEM / MM_THREADS; s++) {
            int idx = tid + s * MM_THREADS;
            int t = idx / ISTHMUS_ITEM;
            int k = idx % ISTHMUS_ITEM;
            int col = it * ISTHMUS_ITEM + k;
            xs[k][t] = (tok0 + t < batch && col < cols) ? x[(size_t)(tok0 + t) * cols + col] : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int k = 0; k < ISTHMUS_ITEM; k++) {
            float a[MM_SUB];
            float b[MM_SUB];
#pragma unroll
            for (int i = 0; i < MM_SUB; i++) {
                a[i] = ws[k][subRow + i];
                b[i] = xs[k][subTok + i];
            }
#pragma unroll
            for (int i = 0; i < MM_SUB; i++) {
#pragma unroll
                for (int j = 0; j < MM_SUB; j++) {
                    acc[i][j] += a[i] * b[j];
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < MM_SUB; j++) {
        int t = tok0 + subTok + j;
#pragma unroll
        for (int i = 0; i < MM_SUB; i++) {
            int r = row0 + subRow + i;
            if (t < batch && r < rows) {
                y[(size_t)t * rows + r] = acc[i][j];
            }
        }
    }
}

#define ISTHMUS_MUL_MAT(name, TYPE)                                                                       \
    extern "C" __global__ void matvec_##name(const uint8_t *w, long long rowBytes, const float *x,        \
                                             float *y, int rows, int cols, int threadsPerRow) {           \
        mat_vec<TYPE>(w, rowBytes, x, y, rows, cols, threadsPerRow);                                       \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(MM_THREADS)                                               \
        matmul_##name(const uint8_t *w, long long rowBytes, const float *x, float *y, int rows, int cols, \
                      int batch, int splits, float *partial) {                                             \
        mat_mul<TYPE>(w, rowBytes, x, y, rows, cols, batch, splits, partial);                              \
    }

// y[i] += the partial sums of splits 1 .. splits - 1, in that order (see mat_mul); n = batch * rows.
extern "C" __global__ void sum_splits(float *y, const float *partial, int n, int splits) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float total = y[i];
        for (int s = 1; s < splits; s++) {
            total += partial[(size_t)(s - 1) * n + i];
        }
        y[i] = total;
    }
}

ISTHMUS_MUL_MAT(f32, ISTHMUS_F32)
ISTHMUS_MUL_MAT(f16, ISTHMUS_F16)
ISTHMUS_MUL_MAT(q4_0, ISTHMUS_Q4_0)
ISTHMUS_MUL_MAT(q8_0, ISTHMUS_Q8_0)
ISTHMUS_MUL_MAT(q4_k, ISTHMUS_Q4_K)
ISTHMUS_MUL_MAT(q6_k, ISTHMUS_Q6_K)

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, one block per row r of n floats.
extern "C" __global__ void rms_norm(float *out, const float *x, const float *weight, int n, float eps) {
    __shared__ float scratch[32];
    const float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        s += xr[i] * xr[i];
    }
    float mean = block_sum(s, scratch) / (float)n;
    float scale = rsqrtf(mean + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        o[i] = (xr[i] * scale) * weight[i];
    }
}

// Rotary embedding of `heads` heads of `headSize` floats for each of gridDim.y tokens: token t's heads
// start at x + t * stride and its angles at cosTable/sinTable + t * dims / 2. The angle tables are computed
// on the host exactly as the CPU backend computes them (dev.isthmus.core.backend.cpu.Rope), so both backends
// rotate by bit-identical angles. neox != 0 pairs the halves (Qwen2, Phi-3), else neighbours.
extern "C" __global__ void rope(float *x, const float *cosTable, const float *sinTable, int heads,
                                int headSize, int dims, int neox, int stride) {
    int half = dims / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= heads * half) {
        return;
    }
    int t = blockIdx.y;
    int h = idx / half;
    int i = idx % half;
    float *base = x + (size_t)t * stride + (size_t)h * headSize;
    int a = neox ? i : 2 * i;
    int b = neox ? i + half : 2 * i + 1;
    float x0 = base[a];
    float x1 = base[b];
    float c = cosTable[(size_t)t * half + i];
    float s = sinTable[(size_t)t * half + i];
    base[a] = x0 * c - x1 * s;
    base[b] = x0 * s + x1 * c;
}

// In-place softmax of each row of n floats, one block per row.
extern "C" __global__ void softmax_rows(float *x, int n) {
    __shared__ float scratch[32];
    float *r = x + (size_t)blockIdx.x * n;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        m = fmaxf(m, r[i]);
    }
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float e = expf(r[i] - m);
        r[i] = e;
        s += e;
    }
    float inv = 1.0f / block_sum(s, scratch);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        r[i] *= inv;
    }
}

// Causal attention of gridDim.y consecutive query tokens over a device-resident KV cache laid out
// [position][kvHead][headDim] (kvStride = kvHeads * headDim floats per position). Block (h, j) is query
// head h of token j, at position first + j: it attends to positions [0, first + j]. Grouped-query heads
// share KV head h / (heads / kvHeads). q and out are [token][head][headDim]; `scores` is scratch of
// gridDim.y * heads * maxPositions floats.
#define ATT_UNROLL 4
#define ATT_MAX_WARPS 16
#define ATT_DIMS 128
extern "C" __global__ void attention(const float *q, const float *kCache, const float *vCache, float *out,
                                     float *scores, int heads, int kvHeads, int headDim, int first,
                                     int maxPositions, float scale) {
    __shared__ float scratch[32];
    __shared__ float part[ATT_MAX_WARPS][ATT_DIMS];
    int h = blockIdx.x;
    int j = blockIdx.y;
    int positions = first + j + 1;
    int kvh = h / (heads / kvHeads);
    int kvStride = kvHeads * headDim;
    const float *qh = q + ((size_t)j * heads + h) * headDim;
    const float *kh = kCache + (size_t)kvh * headDim;
    const float *vh = vCache + (size_t)kvh * headDim;
    float *sc = scores + ((size_t)j * heads + h) * maxPositions;
    int lane = threadIdx.x % WARP;
    int warp = threadIdx.x / WARP;
    int warps = blockDim.x / WARP;
    // Scores: a warp takes ATT_UNROLL positions at a time, lanes the dimensions, so the loads of those
    // positions' keys are in flight together rather than one memory latency per position.
    for (int p0 = warp * ATT_UNROLL; p0 < positions; p0 += warps * ATT_UNROLL) {
        float s[ATT_UNROLL];
#pragma unroll
        for (int u = 0; u < ATT_UNROLL; u++) {
            s[u] = 0.0f;
        }
        for (int i = lane; i < headDim; i += WARP) {
            float qi = qh[i];
#pragma unroll
            for (int u = 0; u < ATT_UNROLL; u++) {
                if (p0 + u < positions) {
                    s[u] += qi * kh[(size_t)(p0 + u) * kvStride + i];
                }
            }
        }
#pragma unroll
        for (int u = 0; u < ATT_UNROLL; u++) {
            float t = warp_sum(s[u]);
            if (lane == 0 && p0 + u < positions) {
                sc[p0 + u] = t * scale;
            }
        }
    }
    __syncthreads();
    float m = -INFINITY;
    for (int p = threadIdx.x; p < positions; p += blockDim.x) {
        m = fmaxf(m, sc[p]);
    }
    m = block_max(m, scratch);
    float sum = 0.0f;
    for (int p = threadIdx.x; p < positions; p += blockDim.x) {
        float e = expf(sc[p] - m);
        sc[p] = e;
        sum += e;
    }
    float inv = 1.0f / block_sum(sum, scratch);
    __syncthreads();
    // Weighted sum of values: warps split the positions, lanes the dimensions (ATT_DIMS at a time); the
    // warps' partial sums are then added in warp order.
    for (int d0 = 0; d0 < headDim; d0 += ATT_DIMS) {
        float acc[ATT_DIMS / WARP];
#pragma unroll
        for (int k = 0; k < ATT_DIMS / WARP; k++) {
            acc[k] = 0.0f;
        }
#pragma unroll 4
        for (int p = warp; p < positions; p += warps) {
            float w = sc[p];
            const float *v = vh + (size_t)p * kvStride + d0;
#pragma unroll
            for (int k = 0; k < ATT_DIMS / WARP; k++) {
                if (d0 + lane + WARP * k < headDim) {
                    acc[k] += w * v[lane + WARP * k];
                }
            }
        }
#pragma unroll
        for (int k = 0; k < ATT_DIMS / WARP; k++) {
            part[warp][lane + WARP * k] = acc[k];
        }
        __syncthreads();
        for (int i = threadIdx.x; i < ATT_DIMS && d0 + i < headDim; i += blockDim.x) {
            float t = 0.0f;
            for (int w = 0; w < warps; w++) {
                t += part[w][i];
            }
            out[((size_t)j * heads + h) * headDim + d0 + i] = t * inv;
        }
        __syncthreads();
    }
}

// gate[i] = silu(gate[i]) * up[i] (SwiGLU feed-forward).
extern "C" __global__ void silu_mul(float *gate, const float *up, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float g = gate[i];
        gate[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

// In-place GELU, tanh approximation (GPT-2, BERT).
extern "C" __global__ void gelu(float *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        const float k = 0.7978845608028654f; // sqrt(2 / pi)
        x[i] = 0.5f * v * (1.0f + tanhf(k * v * (1.0f + 0.044715f * v * v)));
    }
}

// x[i] += y[i] (residual connections, biases).
extern "C" __global__ void add(float *x, const float *y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        x[i] += y[i];
    }
}

// x[i] += bias[i % width] for n elements (rows of `width` back to back).
extern "C" __global__ void add_bias(float *x, const float *bias, int width, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        x[i] += bias[i % width];
    }
}

// out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, one block per row r of n floats (GPT-2).
extern "C" __global__ void layer_norm(float *out, const float *x, const float *weight, const float *bias, int n,
                                      float eps) {
    __shared__ float scratch[32];
    const float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        s += xr[i];
    }
    float mean = block_sum(s, scratch) / (float)n;
    __syncthreads();
    float q = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float d = xr[i] - mean;
        q += d * d;
    }
    float variance = block_sum(q, scratch) / (float)n;
    float scale = rsqrtf(variance + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        o[i] = (xr[i] - mean) * scale * weight[i] + bias[i];
    }
}

// dst[r * dstStride + i] = src[r * srcStride + i] for i < width, r < rows: splits fused QKV and gate-up
// results, and stores keys and values into the cache.
extern "C" __global__ void copy_rows(float *dst, int dstStride, const float *src, int srcStride, int width,
                                     int rows) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < width * rows) {
        int r = i / width;
        int c = i % width;
        dst[(size_t)r * dstStride + c] = src[(size_t)r * srcStride + c];
    }
}

// In-place GELU as the decoder's CPU path computes it (ggml's): the input rounded to half precision, the
// tanh approximation, the result rounded to half; 0 at or below -10 and unchanged from 10 up.
extern "C" __global__ void gelu_half(float *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        if (v <= -10.0f) {
            x[i] = 0.0f;
        } else if (v < 10.0f) {
            float h = isthmus_round_half(v);
            const float k = 0.7978845608028654f; // sqrt(2 / pi)
            x[i] = isthmus_round_half(0.5f * h * (1.0f + tanhf(k * h * (1.0f + 0.044715f * h * h))));
        }
    }
}

// Activation rounding: the values llama.cpp's CPU backend multiplies a weight format with, as quantize-
// then-dequantize in float (dev.isthmus.core.tensor.BlockFormat#roundActivations), so both backends
// multiply the same numbers. Every operation here is exactly rounded in IEEE float on host and device.

// dst = src rounded to half precision (F16 weights).
extern "C" __global__ void round_f16(float *dst, const float *src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        dst[i] = isthmus_round_half(src[i]);
    }
}

// dst = src rounded to bfloat16, nearest-even (BF16 weights).
extern "C" __global__ void round_bf16(float *dst, const float *src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        uint32_t bits = isthmus_float_bits(src[i]);
        if ((bits & 0x7fffffffu) > 0x7f800000u) {
            bits |= 0x00400000u;
        } else {
            bits += 0x7fffu + ((bits >> 16) & 1u);
        }
        dst[i] = isthmus_bits_float(bits & 0xffff0000u);
    }
}

// dst = src through 32-element Q8_0 blocks (scale 127/amax, nearest-even), one warp per block, one thread
// per element; n is a multiple of 32 (Q4_0, Q8_0 and the other 32-element formats). In place is allowed.
extern "C" __global__ void round_q8_0(float *dst, const float *src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return; // whole warps, as n is a multiple of 32
    }
    float v = src[i];
    float amax = fabsf(v);
    for (int o = WARP / 2; o > 0; o >>= 1) {
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    }
    float scale = isthmus_round_half(amax / 127.0f);
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    dst[i] = scale * rintf(v * id);
}

// dst = src through 256-element Q8_K blocks (quantize_row_q8_K_ref: scale -127/max, where max is the first
// element of the largest magnitude, float scale), one warp per block, lane l holding elements l + 32 i;
// n is a multiple of 256 (k-quants). In place is allowed.
#define Q8K_PER_LANE 8
extern "C" __global__ void round_q8_k(float *dst, const float *src, int n) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int b = t / WARP;
    int lane = t % WARP;
    if (b >= n / 256) {
        return; // the whole warp
    }
    const float *s = src + (size_t)b * 256;
    float *d = dst + (size_t)b * 256;
    float v[Q8K_PER_LANE];
    float amax = 0.0f;
    float max = 0.0f;
    int at = 256; // index of max; ties go to the lowest, as in the sequential scan
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        v[i] = s[lane + WARP * i];
        float ax = fabsf(v[i]);
        if (ax > amax) {
            amax = ax;
            max = v[i];
            at = lane + WARP * i;
        }
    }
    for (int o = WARP / 2; o > 0; o >>= 1) {
        float otherAmax = __shfl_xor_sync(0xffffffffu, amax, o);
        float otherMax = __shfl_xor_sync(0xffffffffu, max, o);
        int otherAt = __shfl_xor_sync(0xffffffffu, at, o);
        if (otherAmax > amax || (otherAmax == amax && otherAt < at)) {
            amax = otherAmax;
            max = otherMax;
            at = otherAt;
        }
    }
    if (amax == 0.0f) {
#pragma unroll
        for (int i = 0; i < Q8K_PER_LANE; i++) {
            d[lane + WARP * i] = 0.0f;
        }
        return;
    }
    float iscale = -127.0f / max;
    float scale = 1.0f / iscale;
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        int q = min(127, (int)rintf(iscale * v[i]));
        d[lane + WARP * i] = scale * (float)q;
    }
}
