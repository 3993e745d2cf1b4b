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

// One warp per weight row; lanes stride over the row's 32-element items, decode each once and use it
// for NT activation vectors. NT = 1 is the decode (matvec) path, NT = 8 the prefill path: a larger tile
// reads the weights fewer times but holds more accumulators.
template <int TYPE, int NT>
__device__ __forceinline__ void mul_mat(const uint8_t *__restrict__ w, long long rowBytes,
                                        const float *__restrict__ x, float *__restrict__ y,
                                        int rows, int cols, int batch) {
    int warpsPerBlock = blockDim.x / WARP;
    int row = blockIdx.x * warpsPerBlock + threadIdx.x / WARP;
    int lane = threadIdx.x % WARP;
    int t0 = blockIdx.y * NT;
    if (row >= rows || t0 >= batch) {
        return;
    }
    int nt = min(NT, batch - t0);
    const uint8_t *r = w + (size_t)row * rowBytes;
    const float *xt = x + (size_t)t0 * cols;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) {
        acc[t] = 0.0f;
    }
    int items = isthmus_items(cols);
    float v[ISTHMUS_ITEM];
    for (int it = lane; it < items; it += WARP) {
        int n = isthmus_decode(TYPE, r, it, cols, v);
        int base = it * ISTHMUS_ITEM;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (t < nt) {
                const float *xv = xt + (size_t)t * cols + base;
                float s = 0.0f;
                for (int j = 0; j < n; j++) {
                    s += v[j] * xv[j];
                }
                acc[t] += s;
            }
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        float s = warp_sum(acc[t]);
        if (lane == 0 && t < nt) {
            y[(size_t)(t0 + t) * rows + row] = s;
        }
    }
}

#define ISTHMUS_MUL_MAT(name, TYPE)                                                                       \
    extern "C" __global__ void matvec_##name(const uint8_t *w, long long rowBytes, const float *x,        \
                                             float *y, int rows, int cols, int batch) {                   \
        mul_mat<TYPE, 1>(w, rowBytes, x, y, rows, cols, batch);                                            \
    }                                                                                                      \
    extern "C" __global__ void matmul_##name(const uint8_t *w, long long rowBytes, const float *x,        \
                                             float *y, int rows, int cols, int batch) {                   \
        mul_mat<TYPE, 8>(w, rowBytes, x, y, rows, cols, batch);                                            \
    }

ISTHMUS_MUL_MAT(f32, ISTHMUS_F32)
ISTHMUS_MUL_MAT(f16, ISTHMUS_F16)
ISTHMUS_MUL_MAT(q4_0, ISTHMUS_Q4_0)
ISTHMUS_MUL_MAT(q8_0, ISTHMUS_Q8_0)
ISTHMUS_MUL_MAT(q4_k, ISTHMUS_Q4_K)
ISTHMUS_MUL_MAT(q6_k, ISTHMUS_Q6_K)

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
extern "C" __global__ void attention(const float *q, const float *kCache, const float *vCache, float *out,
                                     float *scores, int heads, int kvHeads, int headDim, int first,
                                     int maxPositions, float scale) {
    __shared__ float scratch[32];
    int h = blockIdx.x;
    int j = blockIdx.y;
    int positions = first + j + 1;
    int kvh = h / (heads / kvHeads);
    int kvStride = kvHeads * headDim;
    const float *qh = q + ((size_t)j * heads + h) * headDim;
    float *sc = scores + ((size_t)j * heads + h) * maxPositions;
    // Scores: one warp per position.
    int lane = threadIdx.x % WARP;
    int warp = threadIdx.x / WARP;
    int warps = blockDim.x / WARP;
    for (int p = warp; p < positions; p += warps) {
        const float *k = kCache + (size_t)p * kvStride + (size_t)kvh * headDim;
        float s = 0.0f;
        for (int i = lane; i < headDim; i += WARP) {
            s += qh[i] * k[i];
        }
        s = warp_sum(s);
        if (lane == 0) {
            sc[p] = s * scale;
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
    // Weighted sum of values: one thread per output dimension.
    for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
        float acc = 0.0f;
        for (int p = 0; p < positions; p++) {
            acc += sc[p] * vCache[(size_t)p * kvStride + (size_t)kvh * headDim + i];
        }
        out[((size_t)j * heads + h) * headDim + i] = acc * inv;
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

// dst = src through 32-element Q8_0 blocks (scale 127/amax, nearest-even), one thread per block; n is a
// multiple of 32 (Q4_0, Q8_0 and the other 32-element formats).
extern "C" __global__ void round_q8_0(float *dst, const float *src, int n) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n / 32) {
        return;
    }
    const float *s = src + (size_t)b * 32;
    float *d = dst + (size_t)b * 32;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        amax = fmaxf(amax, fabsf(s[j]));
    }
    float scale = isthmus_round_half(amax / 127.0f);
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; j++) {
        d[j] = scale * rintf(s[j] * id);
    }
}

// dst = src through 256-element Q8_K blocks (quantize_row_q8_K_ref: scale -127/max of the largest
// magnitude, float scale), one thread per block; n is a multiple of 256 (k-quants).
extern "C" __global__ void round_q8_k(float *dst, const float *src, int n) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n / 256) {
        return;
    }
    const float *s = src + (size_t)b * 256;
    float *d = dst + (size_t)b * 256;
    float max = 0.0f;
    float amax = 0.0f;
    for (int j = 0; j < 256; j++) {
        float ax = fabsf(s[j]);
        if (ax > amax) {
            amax = ax;
            max = s[j];
        }
    }
    if (amax == 0.0f) {
        for (int j = 0; j < 256; j++) {
            d[j] = 0.0f;
        }
        return;
    }
    float iscale = -127.0f / max;
    float scale = 1.0f / iscale;
    for (int j = 0; j < 256; j++) {
        int q = min(127, (int)rintf(iscale * s[j]));
        d[j] = scale * (float)q;
    }
}
