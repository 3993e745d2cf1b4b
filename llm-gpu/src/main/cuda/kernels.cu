// Isthmus CUDA kernels. Compiled to PTX (see compile-kernels.sh) and loaded with cuModuleLoadData, so
// users need a driver but no toolkit. Every entry point is extern "C" so its PTX name is the Java name.
//
// Layout conventions shared with dev.isthmus.gpu.cuda: matrices are row-major; a weight matrix is
// `rows` rows of `rowBytes` bytes each in its GGUF block format; activations are `batch` vectors of
// `cols` floats, back to back; results are `batch` vectors of `rows` floats.
#include "dequant.cuh"

#define WARP 32

// Q8_0- or Q8_K-rounded activations as integers, for the dp4a products (matvec_q8x_*): a row of n values is
// n signed bytes, the levels, then from byte q8x_scales(n) its block scales as floats (n / 32 of Q8_0's,
// n / 256 of Q8_K's), so that level × scale is the rounded value bit for bit.
__device__ __forceinline__ int q8x_scales(int n) {
    return (n + 15) & ~15;
}

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
// This thread's share of the dot product of weight row r (`cols` values) with x.
template <int TYPE>
__device__ __forceinline__ float row_dot(const uint8_t *__restrict__ r, const float *__restrict__ x, int cols,
                                         int t, int threadsPerRow) {
    float acc = 0.0f;
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
                    xv[u][i] = (!ISTHMUS_PLAIN(TYPE) || base + i < cols) ? __ldg(&x[base + i]) : 0.0f;
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
    return acc;
}

// Integer products (dp4a) of weight rows with activations rounded to Q8_0 (Q4_0, Q8_0 weights) or Q8_K (Q4_K,
// Q6_K) and held as integers (qx, see q8x_scales): a thread takes 8-byte units of a block's weight levels and
// the activation levels they meet, four activation bytes a load where the float path reads four floats, and
// sums each unit exactly in integers; the weight and activation scales multiply the sums, as llama.cpp's CPU
// and MMVQ kernels do. Each unit function returns its sum times the weight block's scales; xq is the
// activation block's levels as ints.
#define Q8X_K_QUANT(TYPE)                                                                                \
    ((TYPE) == ISTHMUS_Q2_K || (TYPE) == ISTHMUS_Q3_K || (TYPE) == ISTHMUS_Q4_K || (TYPE) == ISTHMUS_Q5_K        \
     || (TYPE) == ISTHMUS_Q6_K)
#define Q8X_UNITS(TYPE) ((TYPE) == ISTHMUS_Q8_0 ? 4 : Q8X_K_QUANT(TYPE) ? 16 : 2)
#define Q8X_BLOCK(TYPE) (Q8X_K_QUANT(TYPE) ? 256 : 32)
#define Q8X_BLOCK_BYTES(TYPE)                                                                            \
    ((TYPE) == ISTHMUS_Q4_0 || (TYPE) == ISTHMUS_IQ4_NL ? 18 : (TYPE) == ISTHMUS_Q4_1 ? 20                \
     : (TYPE) == ISTHMUS_Q5_0 ? 22 : (TYPE) == ISTHMUS_Q5_1 ? 24 : (TYPE) == ISTHMUS_Q8_0 ? 34            \
     : (TYPE) == ISTHMUS_Q2_K ? 84 : (TYPE) == ISTHMUS_Q3_K ? 110 : (TYPE) == ISTHMUS_Q4_K ? 144                  \
     : (TYPE) == ISTHMUS_Q5_K ? 176 : 210)

// Four bytes at an even offset (blocks of 18, 34 and 210 bytes keep only 2-byte alignment).
__device__ __forceinline__ int word_even(const uint8_t *p) {
    return (int)(isthmus_u16_even(p) | (uint32_t)isthmus_u16_even(p + 2) << 16);
}

__device__ __forceinline__ int byte_sum(int x) {
    return __dp4a(0x01010101, x, 0);
}

// A unit of a Q4_0-shaped block (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL), part 0 or 1: the low nibbles of level bytes
// 8 part .. + 7 (elements 8 part .. + 7) as words l0, l1, the high nibbles (16 elements on) as h0, h1, and the
// activation words x0..x3 they meet.
struct NibbleUnit {
    int l0, l1, h0, h1, x0, x1, x2, x3;
};

__device__ __forceinline__ NibbleUnit nibble_unit(const uint8_t *qs, const int *xq, int part) {
    int w0 = word_even(qs + 8 * part);
    int w1 = word_even(qs + 4 + 8 * part);
    NibbleUnit u;
    u.l0 = w0 & 0x0F0F0F0F;
    u.l1 = w1 & 0x0F0F0F0F;
    u.h0 = (w0 >> 4) & 0x0F0F0F0F;
    u.h1 = (w1 >> 4) & 0x0F0F0F0F;
    u.x0 = __ldg(&xq[2 * part]);
    u.x1 = __ldg(&xq[2 * part + 1]);
    u.x2 = __ldg(&xq[4 + 2 * part]);
    u.x3 = __ldg(&xq[5 + 2 * part]);
    return u;
}

// Q5_0/Q5_1's fifth bits (qh at an even offset) moved into the unit's levels.
__device__ __forceinline__ void add_fifth_bits(NibbleUnit &u, const uint8_t *qh, int part) {
    u.l0 |= (int)isthmus_fifth_bits(qh, 8 * part);
    u.l1 |= (int)isthmus_fifth_bits(qh, 8 * part + 4);
    u.h0 |= (int)isthmus_fifth_bits(qh, 16 + 8 * part);
    u.h1 |= (int)isthmus_fifth_bits(qh, 20 + 8 * part);
}

__device__ __forceinline__ int unit_dot(const NibbleUnit &u) {
    return __dp4a(u.h1, u.x3, __dp4a(u.h0, u.x2, __dp4a(u.l1, u.x1, __dp4a(u.l0, u.x0, 0))));
}

__device__ __forceinline__ int unit_sum(const NibbleUnit &u) {
    return byte_sum(u.x0) + byte_sum(u.x1) + byte_sum(u.x2) + byte_sum(u.x3);
}

// Bytes of a word of nibbles replaced by their IQ4_NL grid values (signed bytes).
__device__ __forceinline__ int grid_word(int nibbles) {
    uint32_t w = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        w |= (uint32_t)(uint8_t)isthmus_iq4nl(((uint32_t)nibbles >> (8 * i)) & 0x0f) << (8 * i);
    }
    return (int)w;
}

// Units of the 32-element formats with nibble levels: Q4_0 (level - 8), Q4_1 (d · level + m), Q5_0 (fifth bit,
// level - 16), Q5_1 (fifth bit, d · level + m), IQ4_NL (grid values): ggml's vec_dot_*_q8_0/_q8_1 sums.
template <int TYPE>
__device__ __forceinline__ float unit_nibbles(const uint8_t *blk, const int *xq, int part) {
    if (TYPE == ISTHMUS_Q4_0) {
        NibbleUnit u = nibble_unit(blk + 2, xq, part);
        return isthmus_f16_at(blk) * (float)(unit_dot(u) - 8 * unit_sum(u));
    } else if (TYPE == ISTHMUS_Q4_1) {
        NibbleUnit u = nibble_unit(blk + 4, xq, part);
        return isthmus_f16_at(blk) * (float)unit_dot(u) + isthmus_f16_at(blk + 2) * (float)unit_sum(u);
    } else if (TYPE == ISTHMUS_Q5_0) {
        NibbleUnit u = nibble_unit(blk + 6, xq, part);
        add_fifth_bits(u, blk + 2, part);
        return isthmus_f16_at(blk) * (float)(unit_dot(u) - 16 * unit_sum(u));
    } else if (TYPE == ISTHMUS_Q5_1) {
        NibbleUnit u = nibble_unit(blk + 8, xq, part);
        add_fifth_bits(u, blk + 4, part);
        return isthmus_f16_at(blk) * (float)unit_dot(u) + isthmus_f16_at(blk + 2) * (float)unit_sum(u);
    } else {
        NibbleUnit u = nibble_unit(blk + 2, xq, part);
        u.l0 = grid_word(u.l0);
        u.l1 = grid_word(u.l1);
        u.h0 = grid_word(u.h0);
        u.h1 = grid_word(u.h1);
        return isthmus_f16_at(blk) * (float)unit_dot(u);
    }
}

// Q8_0 unit part (0..3): levels 8 part .. 8 part + 7.
__device__ __forceinline__ float unit_q8_0(const uint8_t *blk, const int *xq, int part) {
    int dot = __dp4a(word_even(blk + 2 + 8 * part), __ldg(&xq[2 * part]), 0);
    dot = __dp4a(word_even(blk + 6 + 8 * part), __ldg(&xq[2 * part + 1]), dot);
    return isthmus_f16_at(blk) * (float)dot;
}

// Q4_K (and Q5_K, FIFTH) unit part (0..15): bytes 8 p .. 8 p + 7 (p = part % 4) of 32-byte chunk c = part / 4,
// whose low nibbles are elements 64 c + 8 p .. + 7 (sub-block 2 c) and high nibbles 32 more (sub-block 2 c + 1),
// Q5_K's fifth bits bits 2 c and 2 c + 1 of qh bytes 8 p .. + 7: d × Σ scale × Σ level × x − dmin × Σ min × Σ x
// (ggml_vec_dot_q4_K_q8_K's and _q5_K_q8_K's sums).
template <bool FIFTH>
__device__ __forceinline__ float unit_k4(const uint8_t *blk, const int *xq, int part) {
    int c = part >> 2;
    int p = part & 3;
    const uint8_t *q = blk + (FIFTH ? 48 : 16) + 32 * c + 8 * p;
    int w0 = (int)isthmus_u32_aligned(q);
    int w1 = (int)isthmus_u32_aligned(q + 4);
    int low0 = w0 & 0x0F0F0F0F;
    int low1 = w1 & 0x0F0F0F0F;
    int high0 = (w0 >> 4) & 0x0F0F0F0F;
    int high1 = (w1 >> 4) & 0x0F0F0F0F;
    if (FIFTH) {
        int h0 = (int)isthmus_u32_aligned(blk + 16 + 8 * p);
        int h1 = (int)isthmus_u32_aligned(blk + 20 + 8 * p);
        low0 |= ((h0 >> (2 * c)) & 0x01010101) << 4;
        low1 |= ((h1 >> (2 * c)) & 0x01010101) << 4;
        high0 |= ((h0 >> (2 * c + 1)) & 0x01010101) << 4;
        high1 |= ((h1 >> (2 * c + 1)) & 0x01010101) << 4;
    }
    const int *xl = xq + 16 * c + 2 * p;
    int x0 = __ldg(&xl[0]);
    int x1 = __ldg(&xl[1]);
    int x2 = __ldg(&xl[8]);
    int x3 = __ldg(&xl[9]);
    int dotLow = __dp4a(low1, x1, __dp4a(low0, x0, 0));
    int dotHigh = __dp4a(high1, x3, __dp4a(high0, x2, 0));
    uint8_t scLow, mLow, scHigh, mHigh;
    isthmus_scale_min_k4(2 * c, blk + 4, &scLow, &mLow);
    isthmus_scale_min_k4(2 * c + 1, blk + 4, &scHigh, &mHigh);
    int scaled = scLow * dotLow + scHigh * dotHigh;
    int mins = mLow * (byte_sum(x0) + byte_sum(x1)) + mHigh * (byte_sum(x2) + byte_sum(x3));
    return isthmus_f16_at(blk) * (float)scaled - isthmus_f16_at(blk + 2) * (float)mins;
}

// Q6_K unit part (0..15): elements l .. l + 3 (l = 4 (part % 8)) of half n = part / 8 and the three 32 apart
// from them, levels (ql nibble | qh bits << 4) - 32 with a scale each (ggml's dequantize_row_q6_K).
__device__ __forceinline__ float unit_q6_k(const uint8_t *blk, const int *xq, int part) {
    int n = part >> 3;
    int l = 4 * (part & 7);
    uint32_t a = (uint32_t)word_even(blk + 64 * n + l);
    uint32_t b = (uint32_t)word_even(blk + 64 * n + 32 + l);
    uint32_t h = (uint32_t)word_even(blk + 128 + 32 * n + l);
    int v1 = (int)((a & 0x0F0F0F0Fu) | ((h << 4) & 0x30303030u));
    int v2 = (int)((b & 0x0F0F0F0Fu) | ((h << 2) & 0x30303030u));
    int v3 = (int)(((a >> 4) & 0x0F0F0F0Fu) | (h & 0x30303030u));
    int v4 = (int)(((b >> 4) & 0x0F0F0F0Fu) | ((h >> 2) & 0x30303030u));
    const int *xl = xq + 32 * n + l / 4;
    int x1 = __ldg(&xl[0]);
    int x2 = __ldg(&xl[8]);
    int x3 = __ldg(&xl[16]);
    int x4 = __ldg(&xl[24]);
    const int8_t *sc = (const int8_t *)(blk + 192) + 8 * n + l / 16;
    int sum = sc[0] * (__dp4a(v1, x1, 0) - 32 * byte_sum(x1)) + sc[2] * (__dp4a(v2, x2, 0) - 32 * byte_sum(x2))
            + sc[4] * (__dp4a(v3, x3, 0) - 32 * byte_sum(x3)) + sc[6] * (__dp4a(v4, x4, 0) - 32 * byte_sum(x4));
    return isthmus_f16_at(blk + 208) * (float)sum;
}

// Q2_K / Q3_K unit part (0..15): half h = part % 2 (elements l = 16 h .. + 15) of item k = part / 2 = 4 n + j,
// one sub-block: Q2_K d × scale × Σ level × x − dmin × min × Σ x, Q3_K d × (scale − 32) × Σ level × x with
// level = 2-bit field + 4 × hmask bit − 4 (ggml_vec_dot_q2_K_q8_K's and _q3_K_q8_K's sums).
template <bool Q3>
__device__ __forceinline__ float unit_k2(const uint8_t *blk, const int *xq, int part) {
    int k = part >> 1;
    int h = part & 1;
    int n = k >> 2;
    int j = k & 3;
    const uint8_t *q = blk + (Q3 ? 32 : 16) + 32 * n + 16 * h;
    const int *xl = xq + 32 * n + 8 * j + 4 * h;
    int dot = 0;
    int sx = 0;
#pragma unroll
    for (int t = 0; t < 4; t++) {
        int level = (word_even(q + 4 * t) >> (2 * j)) & 0x03030303;
        if (Q3) {
            level |= ((word_even(blk + 16 * h + 4 * t) >> (4 * n + j)) & 0x01010101) << 2;
        }
        int x = __ldg(&xl[t]);
        dot = __dp4a(level, x, dot);
        sx += byte_sum(x);
    }
    int sub = 8 * n + 2 * j + h;
    if (Q3) {
        return isthmus_f16_at(blk + 108) * (float)(isthmus_q3_k_scale(blk + 96, sub) * (dot - 4 * sx));
    }
    uint8_t sc = blk[sub];
    return isthmus_f16_at(blk + 80) * (float)((sc & 0xf) * dot) - isthmus_f16_at(blk + 82) * (float)((sc >> 4) * sx);
}

template <int TYPE>
__device__ __forceinline__ float unit_q8x(const uint8_t *blk, const int *xq, int part) {
    switch (TYPE) {
    case ISTHMUS_Q4_0:
    case ISTHMUS_Q4_1:
    case ISTHMUS_Q5_0:
    case ISTHMUS_Q5_1:
    case ISTHMUS_IQ4_NL:
        return unit_nibbles<TYPE>(blk, xq, part);
    case ISTHMUS_Q8_0:
        return unit_q8_0(blk, xq, part);
    case ISTHMUS_Q2_K:
        return unit_k2<false>(blk, xq, part);
    case ISTHMUS_Q3_K:
        return unit_k2<true>(blk, xq, part);
    case ISTHMUS_Q4_K:
        return unit_k4<false>(blk, xq, part);
    case ISTHMUS_Q5_K:
        return unit_k4<true>(blk, xq, part);
    default:
        return unit_q6_k(blk, xq, part);
    }
}

template <int TYPE>
__device__ __forceinline__ float row_dot_q8x(const uint8_t *__restrict__ r, const signed char *__restrict__ qx,
                                             int cols, int t, int threadsPerRow) {
    const int per = Q8X_UNITS(TYPE);
    int units = cols / Q8X_BLOCK(TYPE) * per;
    const float *scales = (const float *)(qx + q8x_scales(cols));
    float acc = 0.0f;
    for (int u0 = t; u0 < units; u0 += threadsPerRow * MV_BATCH) {
        float parts[MV_BATCH];
#pragma unroll
        for (int k = 0; k < MV_BATCH; k++) {
            int u = u0 + k * threadsPerRow;
            parts[k] = 0.0f;
            if (u < units) {
                int b = u / per;
                parts[k] = unit_q8x<TYPE>(r + (size_t)b * Q8X_BLOCK_BYTES(TYPE),
                                          (const int *)(qx + (size_t)b * Q8X_BLOCK(TYPE)), u % per)
                           * __ldg(&scales[b]);
            }
        }
#pragma unroll
        for (int k = 0; k < MV_BATCH; k++) {
            acc += parts[k];
        }
    }
    return acc;
}

// A row's dot product with the activations: floats, or (INTS) integers.
template <int TYPE, bool INTS>
__device__ __forceinline__ float dot_row(const uint8_t *__restrict__ r, const void *__restrict__ x, int cols, int t,
                                         int threadsPerRow) {
    if constexpr (INTS) {
        return row_dot_q8x<TYPE>(r, (const signed char *)x, cols, t, threadsPerRow);
    } else {
        return row_dot<TYPE>(r, (const float *)x, cols, t, threadsPerRow);
    }
}

// Up to three matrices (COUNT) of the same format and width that multiply the same vector (Q, K and V; gate
// and up) run as one launch: their rows follow one another (w0's rows0, then w1's rows1, then w2's rows2),
// each product written to its own y. Fewer launches, and the small K and V products no longer leave most of
// the GPU idle on their own. Each matrix's rows are read through its own pointer (so loads stay on the
// read-only path).
template <int TYPE, int COUNT, bool INTS>
__device__ __forceinline__ void mat_vec(const uint8_t *__restrict__ w0, const uint8_t *__restrict__ w1,
                                        const uint8_t *__restrict__ w2, long long rowBytes,
                                        const void *__restrict__ x, float *__restrict__ y0,
                                        float *__restrict__ y1, float *__restrict__ y2, int rows0, int rows1,
                                        int rows2, int cols, int threadsPerRow) {
    __shared__ float partial[32];
    int local = threadIdx.x / threadsPerRow;
    int t = threadIdx.x % threadsPerRow;
    int row = blockIdx.x * (blockDim.x / threadsPerRow) + local;
    float acc = 0.0f;
    int matrix = -1; // none: past the last row
    if (row < rows0) {
        matrix = 0;
        acc = dot_row<TYPE, INTS>(w0 + (size_t)row * rowBytes, x, cols, t, threadsPerRow);
    } else if (COUNT > 1 && row < rows0 + rows1) {
        matrix = 1;
        row -= rows0;
        acc = dot_row<TYPE, INTS>(w1 + (size_t)row * rowBytes, x, cols, t, threadsPerRow);
    } else if (COUNT > 2 && row < rows0 + rows1 + rows2) {
        matrix = 2;
        row -= rows0 + rows1;
        acc = dot_row<TYPE, INTS>(w2 + (size_t)row * rowBytes, x, cols, t, threadsPerRow);
    }
    acc = warp_sum(acc);
    if (threadsPerRow == WARP) {
        if (t == 0 && matrix >= 0) {
            (matrix == 0 ? y0 : matrix == 1 ? y1 : y2)[row] = acc;
        }
        return; // the same for every thread of the launch: no barrier follows
    }
    int warpsPerRow = threadsPerRow / WARP;
    if (threadIdx.x % WARP == 0) {
        partial[threadIdx.x / WARP] = acc;
    }
    __syncthreads();
    if (t == 0 && matrix >= 0) {
        float total = 0.0f;
        for (int i = 0; i < warpsPerRow; i++) {
            total += partial[local * warpsPerRow + i];
        }
        (matrix == 0 ? y0 : matrix == 1 ? y1 : y2)[row] = total;
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
        mat_vec<TYPE, 1, false>(w, w, w, rowBytes, x, y, y, y, rows, 0, 0, cols, threadsPerRow);           \
    }                                                                                                      \
    extern "C" __global__ void matvecs_##name(const uint8_t *w0, const uint8_t *w1, const uint8_t *w2,     \
                                              long long rowBytes, const float *x, float *y0, float *y1,   \
                                              float *y2, int rows0, int rows1, int rows2, int cols,       \
                                              int threadsPerRow) {                                         \
        mat_vec<TYPE, 3, false>(w0, w1, w2, rowBytes, x, y0, y1, y2, rows0, rows1, rows2, cols, threadsPerRow); \
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

// The integer decode products (see row_dot_q8x), single and shared-input, as matvec_ and matvecs_.
#define ISTHMUS_MAT_VEC_Q8X(name, TYPE)                                                                   \
    extern "C" __global__ void matvec_q8x_##name(const uint8_t *w, long long rowBytes, const signed char *qx, \
                                                 float *y, int rows, int cols, int threadsPerRow) {       \
        mat_vec<TYPE, 1, true>(w, w, w, rowBytes, qx, y, y, y, rows, 0, 0, cols, threadsPerRow);           \
    }                                                                                                      \
    extern "C" __global__ void matvecs_q8x_##name(const uint8_t *w0, const uint8_t *w1, const uint8_t *w2, \
                                                  long long rowBytes, const signed char *qx, float *y0,    \
                                                  float *y1, float *y2, int rows0, int rows1, int rows2,   \
                                                  int cols, int threadsPerRow) {                           \
        mat_vec<TYPE, 3, true>(w0, w1, w2, rowBytes, qx, y0, y1, y2, rows0, rows1, rows2, cols, threadsPerRow); \
    }

ISTHMUS_MUL_MAT(f32, ISTHMUS_F32)
ISTHMUS_MUL_MAT(f16, ISTHMUS_F16)
ISTHMUS_MUL_MAT(q4_0, ISTHMUS_Q4_0)
ISTHMUS_MUL_MAT(q4_1, ISTHMUS_Q4_1)
ISTHMUS_MUL_MAT(q5_0, ISTHMUS_Q5_0)
ISTHMUS_MUL_MAT(q5_1, ISTHMUS_Q5_1)
ISTHMUS_MUL_MAT(iq4_nl, ISTHMUS_IQ4_NL)
ISTHMUS_MUL_MAT(q8_0, ISTHMUS_Q8_0)
ISTHMUS_MUL_MAT(q2_k, ISTHMUS_Q2_K)
ISTHMUS_MUL_MAT(q3_k, ISTHMUS_Q3_K)
ISTHMUS_MUL_MAT(q4_k, ISTHMUS_Q4_K)
ISTHMUS_MUL_MAT(q5_k, ISTHMUS_Q5_K)
ISTHMUS_MUL_MAT(q6_k, ISTHMUS_Q6_K)
ISTHMUS_MAT_VEC_Q8X(q4_0, ISTHMUS_Q4_0)
ISTHMUS_MAT_VEC_Q8X(q4_1, ISTHMUS_Q4_1)
ISTHMUS_MAT_VEC_Q8X(q5_0, ISTHMUS_Q5_0)
ISTHMUS_MAT_VEC_Q8X(q5_1, ISTHMUS_Q5_1)
ISTHMUS_MAT_VEC_Q8X(iq4_nl, ISTHMUS_IQ4_NL)
ISTHMUS_MAT_VEC_Q8X(q8_0, ISTHMUS_Q8_0)
ISTHMUS_MAT_VEC_Q8X(q2_k, ISTHMUS_Q2_K)
ISTHMUS_MAT_VEC_Q8X(q3_k, ISTHMUS_Q3_K)
ISTHMUS_MAT_VEC_Q8X(q4_k, ISTHMUS_Q4_K)
ISTHMUS_MAT_VEC_Q8X(q5_k, ISTHMUS_Q5_K)
ISTHMUS_MAT_VEC_Q8X(q6_k, ISTHMUS_Q6_K)

// In-place softmax of each row of n floats, one block per row.
// A block's row r of n floats: r[i] = exp(r[i] - max r), in place; returns their sum (every thread gets it).
// The unnormalised half of a softmax, shared by softmax_rows and attention.
__device__ float block_exp_shift(float *r, int n, float *scratch) {
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
    return block_sum(s, scratch);
}

extern "C" __global__ void softmax_rows(float *x, int n) {
    __shared__ float scratch[32];
    float *r = x + (size_t)blockIdx.x * n;
    float inv = 1.0f / block_exp_shift(r, n, scratch);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        r[i] *= inv;
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

// Rounding codes, in the order of dev.isthmus.gpu.cuda.DeviceRounding (its ordinal is the code).
#define ROUND_NONE 0
#define ROUND_F16 1
#define ROUND_BF16 2
#define ROUND_Q8_0 3
#define ROUND_Q8_K 4
// Elements per lane of a warp rounding one Q8_K block of 256.
#define Q8K_PER_LANE 8

// src rounded to bfloat16, nearest-even.
__device__ __forceinline__ float isthmus_round_bf16(float src) {
    uint32_t bits = isthmus_float_bits(src);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        bits |= 0x00400000u;
    } else {
        bits += 0x7fffu + ((bits >> 16) & 1u);
    }
    return isthmus_bits_float(bits & 0xffff0000u);
}

// v through a 32-element Q8_0 block (scale 127/amax, nearest-even) whose elements are v of the warp's 32
// lanes, all live.
__device__ __forceinline__ float isthmus_round_q8_0(float v, float *scaleOut = nullptr, int *levelOut = nullptr) {
    float amax = fabsf(v);
    for (int o = WARP / 2; o > 0; o >>= 1) {
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    }
    float scale = isthmus_round_half(amax / 127.0f);
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    float level = rintf(v * id);
    if (scaleOut != nullptr) {
        *scaleOut = scale;
        *levelOut = (int)level;
    }
    return scale * level;
}


// Element i of a Q8_0-rounded row of n in both forms: the float in rounded[i], the level and its block's
// scale in qx (when not null). The warp's 32 lanes hold one block, as isthmus_round_q8_0 needs.
__device__ __forceinline__ void store_q8_0(float *rounded, signed char *qx, int n, int i, float v) {
    float scale;
    int level;
    rounded[i] = isthmus_round_q8_0(v, &scale, &level);
    if (qx != nullptr) {
        qx[i] = (signed char)level;
        if (i % 32 == 0) {
            ((float *)(qx + q8x_scales(n)))[i / 32] = scale;
        }
    }
}

// v through a 256-element Q8_K block (quantize_row_q8_K_ref: scale -127/max, where max is the first element
// of the largest magnitude, float scale), in place; lane l of the warp holds elements l + 32 i as v[i].
__device__ __forceinline__ void isthmus_round_q8_k(float *v, int lane, int *levels = nullptr,
                                                   float *scaleOut = nullptr) {
    float amax = 0.0f;
    float max = 0.0f;
    int at = 256; // index of max; ties go to the lowest, as in the sequential scan
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
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
            v[i] = 0.0f;
            if (levels != nullptr) {
                levels[i] = 0;
            }
        }
        if (scaleOut != nullptr) {
            *scaleOut = 0.0f;
        }
        return;
    }
    float iscale = -127.0f / max;
    float scale = 1.0f / iscale;
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        int q = min(127, (int)rintf(iscale * v[i]));
        v[i] = scale * (float)q;
        if (levels != nullptr) {
            levels[i] = q;
        }
    }
    if (scaleOut != nullptr) {
        *scaleOut = scale;
    }
}

// A warp's Q8_K block starting at element `first` of a row of n, as integers: lane l's levels are elements
// l + 32 i; the block's scale goes to scale slot first / 256 (q8x_scales).
__device__ __forceinline__ void store_q8_k_ints(signed char *qx, int n, int first, int lane, const int *levels,
                                                float scale) {
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        qx[first + lane + WARP * i] = (signed char)levels[i];
    }
    if (lane == 0) {
        ((float *)(qx + q8x_scales(n)))[first / 256] = scale;
    }
}

// Elements of one rounding block: a warp rounds one block, Q8_K's of 256 or 32 for the others (for them
// 32 is only the fused kernels' unit of work).
__device__ __forceinline__ int rounding_block(int rounding) {
    return rounding == ROUND_Q8_K ? 256 : WARP;
}

// A warp's block of `rounding`, in place: lane l holds elements l + 32 i as v[i], i < rounding_block / 32.
// Every lane of the warp must call it (the block-scaled roundings shuffle).
__device__ __forceinline__ void round_lanes(float *v, int rounding, int lane, int *levels = nullptr,
                                            float *scale = nullptr) {
    switch (rounding) {
    case ROUND_F16:
        v[0] = isthmus_round_half(v[0]);
        break;
    case ROUND_BF16:
        v[0] = isthmus_round_bf16(v[0]);
        break;
    case ROUND_Q8_0:
        v[0] = isthmus_round_q8_0(v[0]);
        break;
    case ROUND_Q8_K:
        isthmus_round_q8_k(v, lane, levels, scale);
        break;
    default:
        break;
    }
}

// Every rounding kernel takes (dst, src, n, qx); the element-wise ones have no integer form and ignore qx.

// dst = src rounded to half precision (F16 weights).
extern "C" __global__ void round_f16(float *dst, const float *src, int n, signed char *) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        dst[i] = isthmus_round_half(src[i]);
    }
}

// dst = src rounded to bfloat16, nearest-even (BF16 weights).
extern "C" __global__ void round_bf16(float *dst, const float *src, int n, signed char *) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        dst[i] = isthmus_round_bf16(src[i]);
    }
}

// dst = src through 32-element Q8_0 blocks, one warp per block, one thread per element; n is a multiple of
// 32 (Q4_0, Q8_0 and the other 32-element formats). In place is allowed. For a single row, qx (when not null)
// gets it as integers too (store_q8_0).
extern "C" __global__ void round_q8_0(float *dst, const float *src, int n, signed char *qx) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return; // whole warps, as n is a multiple of 32
    }
    store_q8_0(dst, qx, n, i, src[i]);
}

// dst = src through 256-element Q8_K blocks, one warp per block, lane l holding elements l + 32 i;
// n is a multiple of 256 (k-quants). In place is allowed. For a single row, qx (when not null) gets it as
// integers too (store_q8_k_ints).
extern "C" __global__ void round_q8_k(float *dst, const float *src, int n, signed char *qx) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int b = t / WARP;
    int lane = t % WARP;
    if (b >= n / 256) {
        return; // the whole warp
    }
    const float *s = src + (size_t)b * 256;
    float *d = dst + (size_t)b * 256;
    float v[Q8K_PER_LANE];
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        v[i] = s[lane + WARP * i];
    }
    int levels[Q8K_PER_LANE];
    float scale;
    isthmus_round_q8_k(v, lane, levels, &scale);
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        d[lane + WARP * i] = v[i];
    }
    if (qx != nullptr) {
        store_q8_k_ints(qx, n, b * 256, lane, levels, scale);
    }
}

// ---- Fused kernels: the decode step is launch-bound (about 20 small kernels a layer), so the steps between
// two products run as one launch each. Each computes, operation for operation, what the separate kernels
// above compute one after another, so results do not change.

// A block's row of n floats: rounded = round(out) per warp block, after the block's threads have written
// `out` (the norms' second pass for Q8_K, whose 256-element blocks span warps). n is a multiple of the
// block-scaled roundings' blocks (their products' widths are); the element-wise roundings take any n, the
// last warp block partly.
__device__ void round_row(float *rounded, const float *out, int n, int rounding, signed char *qx) {
    if (rounding == ROUND_NONE) {
        return;
    }
    __syncthreads();
    int lane = threadIdx.x % WARP;
    int warps = blockDim.x / WARP;
    int block = rounding_block(rounding);
    int per = block / WARP;
    for (int b = threadIdx.x / WARP; b < (n + block - 1) / block; b += warps) {
        float v[Q8K_PER_LANE] = {};
#pragma unroll
        for (int i = 0; i < Q8K_PER_LANE; i++) {
            int e = b * block + lane + WARP * i;
            if (i < per && e < n) {
                v[i] = out[e];
            }
        }
        int levels[Q8K_PER_LANE];
        float scale;
        round_lanes(v, rounding, lane, levels, &scale);
#pragma unroll
        for (int i = 0; i < Q8K_PER_LANE; i++) {
            int e = b * block + lane + WARP * i;
            if (i < per && e < n) {
                rounded[e] = v[i];
            }
        }
        if (qx != nullptr && rounding == ROUND_Q8_K) {
            store_q8_k_ints(qx, n, b * block, lane, levels, scale);
        }
    }
}

// Output element i of a norm (or of attention), and unless the rounding is Q8_K's (round_row's second pass),
// its rounding: the callers' loops give each warp 32 consecutive elements from a multiple of 32, so a Q8_0
// block is one warp's registers (and n, a multiple of 32 for Q8_0, keeps every lane in the loop).
// With a Q8_0 rounding and qx not null, the row (of n) is also written as integers (store_q8_0).
__device__ __forceinline__ void store_rounded(float *o, float *rounded, int i, float v, int rounding,
                                           signed char *qx = nullptr, int n = 0) {
    o[i] = v;
    switch (rounding) {
    case ROUND_F16:
        rounded[i] = isthmus_round_half(v);
        break;
    case ROUND_BF16:
        rounded[i] = isthmus_round_bf16(v);
        break;
    case ROUND_Q8_0:
        store_q8_0(rounded, qx, n, i, v);
        break;
    default:
        break;
    }
}

// The residual add, the norm and the next product's rounding, one block per row r of n floats:
// x[r] += residual[r] (when residual is not null: the previous sub-layer's output), out[r] = rms_norm(x[r]),
// rounded[r] = out[r] rounded for the product that reads it (`rounding`, one of the ROUND_ codes); for a
// single Q8_0 or Q8_K row, qx (when not null) gets it as integers too. A decode
// step's row is one block's work, so blocks are large (NORM_THREADS): fewer dependent trips to memory.
extern "C" __global__ void __launch_bounds__(1024)
    rms_norm_round(float *out, float *rounded, float *__restrict__ x, const float *__restrict__ residual,
                   const float *__restrict__ weight, int n, float eps, int rounding, signed char *qx) {
    __shared__ float scratch[32];
    float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    float *ro = rounded + (size_t)blockIdx.x * n;
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (residual != nullptr) {
            xr[i] += residual[(size_t)blockIdx.x * n + i];
        }
        s += xr[i] * xr[i];
    }
    float mean = block_sum(s, scratch) / (float)n;
    float scale = rsqrtf(mean + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        store_rounded(o, ro, i, (xr[i] * scale) * weight[i], rounding, qx, n);
    }
    if (rounding == ROUND_Q8_K) {
        round_row(ro, o, n, rounding, qx);
    }
}

// layer_norm's twin of rms_norm_round (GPT-2).
extern "C" __global__ void __launch_bounds__(1024)
    layer_norm_round(float *out, float *rounded, float *__restrict__ x, const float *__restrict__ residual,
                     const float *__restrict__ weight, const float *__restrict__ bias, int n, float eps,
                     int rounding, signed char *qx) {
    __shared__ float scratch[32];
    float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    float *ro = rounded + (size_t)blockIdx.x * n;
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (residual != nullptr) {
            xr[i] += residual[(size_t)blockIdx.x * n + i];
        }
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
        store_rounded(o, ro, i, (xr[i] - mean) * scale * weight[i] + bias[i], rounding, qx, n);
    }
    if (rounding == ROUND_Q8_K) {
        round_row(ro, o, n, rounding, qx);
    }
}

// Everything between the Q, K, V products and attention, for gridDim.y tokens: biases added (bq, bk, bv
// may be null), rotary embedding of the first `dims` elements of each query and key head (dims 0: none),
// and with `half` every query, key and value rounded to half precision, as the host's F16 cache holds them.
// Token t's angles are cosTable/sinTable + t * dims / 2, computed on the host exactly as the CPU backend
// computes them (dev.isthmus.core.backend.cpu.Rope), so both backends rotate by bit-identical angles;
// neox != 0 pairs the halves (Qwen2, Phi-3), else neighbours. Token t's query heads are read at
// qSrc + t * qSrcStride and written at qDst + t * heads * headSize, its key and value heads read at
// kSrc/vSrc + t * kvSrcStride and written at kDst/vDst + t * kvHeads * headSize (the cache), so a fused QKV
// product's rows are split on the way; in place is allowed. One thread per pair of elements: the rotated
// pair, or two neighbours.
extern "C" __global__ void qkv_rope(const float *qSrc, const float *kSrc, const float *vSrc, int qSrcStride,
                                    int kvSrcStride, float *qDst, float *kDst, float *vDst, const float *bq,
                                    const float *bk, const float *bv, const float *cosTable,
                                    const float *sinTable, int heads, int kvHeads, int headSize, int dims,
                                    int neox, int half) {
    int pairs = (headSize + 1) / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (heads + 2 * kvHeads) * pairs) {
        return;
    }
    int t = blockIdx.y;
    int h = idx / pairs;
    int p = idx % pairs;
    const float *src;
    float *dst;
    const float *bias;
    bool rotate;
    if (h < heads) {
        src = qSrc + (size_t)t * qSrcStride;
        dst = qDst + (size_t)t * heads * headSize;
        bias = bq;
        rotate = true;
    } else if (h < heads + kvHeads) {
        h -= heads;
        src = kSrc + (size_t)t * kvSrcStride;
        dst = kDst + (size_t)t * kvHeads * headSize;
        bias = bk;
        rotate = true;
    } else {
        h -= heads + kvHeads;
        src = vSrc + (size_t)t * kvSrcStride;
        dst = vDst + (size_t)t * kvHeads * headSize;
        bias = bv;
        rotate = false;
    }
    int rotated = dims / 2;
    rotate = rotate && p < rotated;
    int a = rotate && neox ? p : 2 * p;
    int b = rotate && neox ? p + rotated : 2 * p + 1;
    bool second = b < headSize;
    int at = h * headSize;
    float x0 = src[at + a];
    float x1 = second ? src[at + b] : 0.0f;
    if (bias != nullptr) {
        x0 += bias[at + a];
        if (second) {
            x1 += bias[at + b];
        }
    }
    if (rotate) {
        float c = cosTable[(size_t)t * rotated + p];
        float s = sinTable[(size_t)t * rotated + p];
        float r0 = x0 * c - x1 * s;
        float r1 = x0 * s + x1 * c;
        x0 = r0;
        x1 = r1;
    }
    if (half) {
        x0 = isthmus_round_half(x0);
        x1 = isthmus_round_half(x1);
    }
    dst[at + a] = x0;
    if (second) {
        dst[at + b] = x1;
    }
}

// SwiGLU and the down product's rounding: out = silu(gate) * up, rounded = round(out), for n elements in rows
// of `width` (gate and up rows `stride` floats apart, out and rounded rows `width`: the halves of a fused
// gate-up product are read in place). One warp per rounding block (threads = n / (rounding_block / 32));
// n and width are multiples of the rounding block for the block-scaled roundings. For a single Q8_0 or Q8_K
// row, qx (when not null) gets it as integers too (store_q8_0, store_q8_k_ints).
extern "C" __global__ void silu_mul_round(float *out, float *rounded, const float *gate, const float *up,
                                          int width, int stride, int n, int rounding, signed char *qx) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = t % WARP;
    int block = rounding_block(rounding);
    int per = block / WARP;
    size_t first = (size_t)(t / WARP) * block;
    if (first >= (size_t)n) {
        return; // the whole warp
    }
    float v[Q8K_PER_LANE] = {};
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        size_t e = first + lane + WARP * i;
        if (i < per && e < (size_t)n) {
            size_t at = (e / width) * stride + e % width;
            float g = gate[at];
            v[i] = (g / (1.0f + expf(-g))) * up[at];
            out[e] = v[i];
        }
    }
    if (rounding == ROUND_NONE) {
        return;
    }
    if (rounding == ROUND_Q8_0) {
        // One block a warp, one element a lane (n is whole blocks).
        store_q8_0(rounded, qx, n, (int)first + lane, v[0]);
        return;
    }
    int levels[Q8K_PER_LANE];
    float scale;
    round_lanes(v, rounding, lane, levels, &scale);
#pragma unroll
    for (int i = 0; i < Q8K_PER_LANE; i++) {
        size_t e = first + lane + WARP * i;
        if (i < per && e < (size_t)n) {
            rounded[e] = v[i];
        }
    }
    if (qx != nullptr && rounding == ROUND_Q8_K) {
        store_q8_k_ints(qx, n, (int)first, lane, levels, scale);
    }
}

// Causal attention of gridDim.y consecutive query tokens over a device-resident KV cache laid out
// [position][kvHead][headDim] (kvStride = kvHeads * headDim floats per position). Block (h, j) is query
// head h of token j, at position first + j: it attends to positions [0, first + j]. Grouped-query heads
// share KV head h / (heads / kvHeads). q and out are [token][head][headDim]; `scores` is scratch of
// gridDim.y * heads * maxPositions floats. `rounded` gets out rounded as `rounding` (see below), and for a
// single token with Q8_0, qx (when not null) the same as integers (store_q8_0).
#define ATT_UNROLL 4
#define ATT_MAX_WARPS 16
#define ATT_DIMS 128
extern "C" __global__ void attention(const float *q, const float *kCache, const float *vCache, float *out,
                                     float *scores, int heads, int kvHeads, int headDim, int first,
                                     int maxPositions, float scale, float *rounded, int rounding,
                                     signed char *qx) {
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
    float inv = 1.0f / block_exp_shift(sc, positions, scratch);
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
            // The output projection's rounding too (F16, BF16, or Q8_0 where heads are whole 32-element
            // blocks, so that each warp holds one block here); the caller rounds the others itself.
            size_t at = ((size_t)j * heads + h) * headDim + d0;
            store_rounded(out, rounded, (int)at + i, t * inv, rounding, qx, heads * headDim);
        }
        __syncthreads();
    }
}
