// Block decoders shared by the kernels (device) and the host-side layout check (host): one source of
// truth for how GGUF blocks turn into floats, so the layout can be tested on machines without a GPU.
//
// A "item" is 32 consecutive elements of a row: one block of Q4_0/Q8_0, one eighth of a Q4_K/Q6_K
// super-block, or 32 plain F16/F32 values (fewer in the last item when a plain row is not a multiple
// of 32). Decoders work on quads, four elements of an item (below).
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define ISTHMUS_HD __host__ __device__ __forceinline__
#else
#define ISTHMUS_HD inline
#endif

// ggml type ids (GGUF tensor types), the values CudaBackend passes in.
#define ISTHMUS_F32 0
#define ISTHMUS_F16 1
#define ISTHMUS_Q4_0 2
#define ISTHMUS_Q4_1 3
#define ISTHMUS_Q5_0 6
#define ISTHMUS_Q5_1 7
#define ISTHMUS_Q8_0 8
#define ISTHMUS_Q2_K 10
#define ISTHMUS_Q3_K 11
#define ISTHMUS_Q4_K 12
#define ISTHMUS_Q5_K 13
#define ISTHMUS_Q6_K 14
#define ISTHMUS_IQ4_NL 20

#define ISTHMUS_ITEM 32

// IEEE half to float by bit manipulation: identical on host and device, and needs no cuda_fp16.h.
ISTHMUS_HD float isthmus_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            // Subnormal half: normalise into a float.
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    union { uint32_t u; float f; } v;
    v.u = bits;
    return v.f;
}

// Little-endian 16-bit load from a byte pointer: block fields are only 2-byte aligned at best.
ISTHMUS_HD uint16_t isthmus_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

// Loads from addresses known to be 2- or 4-byte aligned: block fields at even offsets of blocks whose sizes
// are even (weights have an allocation each, far more aligned). One load where byte loads take two or four;
// the host build keeps the byte loads, which give the same values.
ISTHMUS_HD uint16_t isthmus_u16_even(const uint8_t *p) {
#if defined(__CUDACC__)
    return *(const uint16_t *)p;
#else
    return isthmus_u16(p);
#endif
}

ISTHMUS_HD uint32_t isthmus_u32_aligned(const uint8_t *p) {
#if defined(__CUDACC__)
    return *(const uint32_t *)p;
#else
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
#endif
}

// A half at an even offset: every block scale, and every element of an F16 row.
ISTHMUS_HD float isthmus_f16_at(const uint8_t *p) {
    return isthmus_half_to_float(isthmus_u16_even(p));
}

// A "quad" is 4 consecutive elements of an item, at element offset e = 0, 4, ..., 28 inside it. Kernels
// hand quads to threads so that neighbouring threads read neighbouring bytes and activations; each decoder
// below computes the same floats, with the same operations, as ggml's dequantize_row_* for those elements.
#define ISTHMUS_QUAD 4
#define ISTHMUS_QUADS_PER_ITEM (ISTHMUS_ITEM / ISTHMUS_QUAD)

// Items per row of `cols` elements.
ISTHMUS_HD int isthmus_items(int cols) {
    return (cols + ISTHMUS_ITEM - 1) / ISTHMUS_ITEM;
}

// Plain rows may end inside an item (cols not a multiple of 32): elements past the end decode as 0.
ISTHMUS_HD void isthmus_quad_f32(const uint8_t *row, int item, int e, int cols, float *w) {
    int first = item * ISTHMUS_ITEM + e;
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        union { uint32_t u; float f; } v;
        v.u = first + i < cols ? isthmus_u32_aligned(row + (size_t)(first + i) * 4) : 0u;
        w[i] = v.f;
    }
}

ISTHMUS_HD void isthmus_quad_f16(const uint8_t *row, int item, int e, int cols, float *w) {
    int first = item * ISTHMUS_ITEM + e;
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = first + i < cols ? isthmus_f16_at(row + (size_t)(first + i) * 2) : 0.0f;
    }
}

// Q8_0: { half d; int8 qs[32]; } = 34 bytes; w = d * q.
ISTHMUS_HD void isthmus_quad_q8_0(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 34;
    float d = isthmus_f16_at(b);
    uint32_t q = isthmus_u16_even(b + 2 + e) | ((uint32_t)isthmus_u16_even(b + 4 + e) << 16);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = d * (float)(int8_t)(q >> (8 * i));
    }
}

// Q4_0: { half d; uint8 qs[16]; } = 18 bytes; low nibbles are elements 0..15, high nibbles 16..31.
ISTHMUS_HD void isthmus_quad_q4_0(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 18;
    float d = isthmus_f16_at(b);
    const uint8_t *p = b + 2 + (e & 15);
    uint32_t q = (isthmus_u16_even(p) | ((uint32_t)isthmus_u16_even(p + 2) << 16)) >> (e < 16 ? 0 : 4);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = d * (float)((int)((q >> (8 * i)) & 0x0f) - 8);
    }
}

// The four nibbles of a Q4_0-shaped block's quad at element e (0..28): bytes e & 15 .. + 3 of the 16 level
// bytes at q, low nibbles for e < 16, high ones above (an even offset: two halfword loads).
ISTHMUS_HD uint32_t isthmus_nibbles(const uint8_t *q, int e) {
    const uint8_t *p = q + (e & 15);
    return ((isthmus_u16_even(p) | ((uint32_t)isthmus_u16_even(p + 2) << 16)) >> (e < 16 ? 0 : 4)) & 0x0f0f0f0fu;
}

// The fifth bits of Q5_0/Q5_1 elements e .. e + 3 (qh at an even offset, bit j for element j) at bit 4 of
// each byte.
ISTHMUS_HD uint32_t isthmus_fifth_bits(const uint8_t *qh, int e) {
    uint32_t bits = (isthmus_u16_even(qh) | ((uint32_t)isthmus_u16_even(qh + 2) << 16)) >> e;
    // Bit k of the nibble to bit 0 of byte k: the four shifted copies do not overlap, so nothing carries.
    return ((bits & 0x0fu) * 0x00204081u & 0x01010101u) << 4;
}

// Q4_1: { half d; half m; uint8 qs[16]; } = 20 bytes; w = d * q + m.
ISTHMUS_HD void isthmus_quad_q4_1(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 20;
    float d = isthmus_f16_at(b);
    float m = isthmus_f16_at(b + 2);
    uint32_t q = isthmus_nibbles(b + 4, e);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = (float)((q >> (8 * i)) & 0xff) * d + m;
    }
}

// Q5_0: { half d; uint8 qh[4]; uint8 qs[16]; } = 22 bytes; w = d * ((nibble | fifth bit << 4) - 16).
ISTHMUS_HD void isthmus_quad_q5_0(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 22;
    float d = isthmus_f16_at(b);
    uint32_t q = isthmus_nibbles(b + 6, e) | isthmus_fifth_bits(b + 2, e);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = (float)((int)((q >> (8 * i)) & 0xff) - 16) * d;
    }
}

// Q5_1: { half d; half m; uint8 qh[4]; uint8 qs[16]; } = 24 bytes; w = d * (nibble | fifth bit << 4) + m.
ISTHMUS_HD void isthmus_quad_q5_1(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 24;
    float d = isthmus_f16_at(b);
    float m = isthmus_f16_at(b + 2);
    uint32_t q = isthmus_nibbles(b + 8, e) | isthmus_fifth_bits(b + 4, e);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = (float)((q >> (8 * i)) & 0xff) * d + m;
    }
}

// kvalues_iq4nl, IQ4_NL's grid, as bytes of two words (no table in memory: host and device read it alike).
#define ISTHMUS_IQ4NL_LOW 0xf6eaddcfbfad9881ull  // -127, -104, -83, -65, -49, -35, -22, -10
#define ISTHMUS_IQ4NL_HIGH 0x7159453526190d01ull // 1, 13, 25, 38, 53, 69, 89, 113

ISTHMUS_HD int isthmus_iq4nl(uint32_t nibble) {
    return (int)(int8_t)((nibble < 8 ? ISTHMUS_IQ4NL_LOW : ISTHMUS_IQ4NL_HIGH) >> (8 * (nibble & 7)));
}

// IQ4_NL: { half d; uint8 qs[16]; } = 18 bytes, Q4_0's shape; w = d * grid[nibble].
ISTHMUS_HD void isthmus_quad_iq4_nl(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)item * 18;
    float d = isthmus_f16_at(b);
    uint32_t q = isthmus_nibbles(b + 2, e);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = d * (float)isthmus_iq4nl((q >> (8 * i)) & 0x0f);
    }
}

// Q2_K: { uint8 scales[16]; uint8 qs[64]; half d; half dmin; } = 84 bytes, 256 elements in 16 sub-blocks of
// 16. Item k = 4n + j (n: 128-element half, j: 2-bit field) holds elements 128 n + 32 j .. + 31: level bits 2j of
// qs[32 n + l] for its element l, sub-block 8n + 2j + l / 16, whose scale byte has d's multiplier in its low
// and dmin's in its high nibble (ggml's dequantize_row_q2_K).
ISTHMUS_HD void isthmus_quad_q2_k(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 84;
    int n = (item & 7) >> 2;
    int j = item & 3;
    uint8_t sc = b[8 * n + 2 * j + e / 16];
    float dl = isthmus_f16_at(b + 80) * (float)(sc & 0xf);
    float ml = isthmus_f16_at(b + 82) * (float)(sc >> 4);
    // 84-byte blocks, qs at 16 and e a multiple of 4: one aligned word.
    uint32_t q = isthmus_u32_aligned(b + 16 + 32 * n + e) >> (2 * j);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = dl * (float)((q >> (8 * i)) & 3) - ml;
    }
}

// Q3_K sub-block k's 6-bit scale less 32, from the 12 packed scale bytes s (ggml's aux unpacking): low four
// bits from byte k (k < 8) or the high nibble of byte k - 8, top two from byte 8 + k % 4, bits 2 (k / 4).
ISTHMUS_HD int isthmus_q3_k_scale(const uint8_t *s, int k) {
    int low = k < 8 ? (s[k] & 0xf) : (s[k - 8] >> 4);
    int high = (s[8 + (k & 3)] >> (2 * (k >> 2))) & 3;
    return (low | (high << 4)) - 32;
}

// Q3_K: { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; } = 110 bytes, 256 elements; items as Q2_K's,
// level = 2-bit field - (bit 4n + j of hmask[l] clear ? 4 : 0) (ggml's dequantize_row_q3_K).
ISTHMUS_HD void isthmus_quad_q3_k(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 110;
    int n = (item & 7) >> 2;
    int j = item & 3;
    float dl = isthmus_f16_at(b + 108) * (float)isthmus_q3_k_scale(b + 96, 8 * n + 2 * j + e / 16);
    // 110-byte blocks: halfword loads.
    uint32_t q = (isthmus_u16_even(b + 32 + 32 * n + e) | ((uint32_t)isthmus_u16_even(b + 34 + 32 * n + e) << 16)) >> (2 * j);
    uint32_t h = (isthmus_u16_even(b + e) | ((uint32_t)isthmus_u16_even(b + 2 + e) << 16)) >> (4 * n + j);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = dl * (float)((int)((q >> (8 * i)) & 3) - (((h >> (8 * i)) & 1) ? 0 : 4));
    }
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4).
ISTHMUS_HD void isthmus_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Sub-block k's factors in a Q4_K/Q5_K super-block at b: d × scale and dmin × min.
ISTHMUS_HD void isthmus_k4_factors(const uint8_t *b, int k, float *d1, float *m1) {
    uint8_t sc;
    uint8_t m;
    isthmus_scale_min_k4(k, b + 4, &sc, &m);
    *d1 = isthmus_f16_at(b) * (float)sc;
    *m1 = isthmus_f16_at(b + 2) * (float)m;
}

// Q4_K: { half d; half dmin; uint8 scales[12]; uint8 qs[128]; } = 144 bytes, 256 elements.
// Item k of the block is sub-block k: chunk k/2 of 64 elements, low (k even) or high nibbles.
ISTHMUS_HD void isthmus_quad_q4_k(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 144;
    int k = item & 7;
    float d1;
    float m1;
    isthmus_k4_factors(b, k, &d1, &m1);
    // 144-byte blocks and e a multiple of 4: the quad's four bytes are one aligned word.
    uint32_t q = isthmus_u32_aligned(b + 16 + 32 * (k >> 1) + e) >> ((k & 1) ? 4 : 0);
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = d1 * (float)((q >> (8 * i)) & 0x0f) - m1;
    }
}

// Q5_K: { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; } = 176 bytes, 256 elements.
// Item k is sub-block k, as Q4_K's, its levels' fifth bits bit k of qh[0..31] (ggml's dequantize_row_q5_K).
ISTHMUS_HD void isthmus_quad_q5_k(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 176;
    int k = item & 7;
    float d1;
    float m1;
    isthmus_k4_factors(b, k, &d1, &m1);
    // 176-byte blocks and e a multiple of 4: both words are aligned.
    uint32_t q = isthmus_u32_aligned(b + 48 + 32 * (k >> 1) + e) >> ((k & 1) ? 4 : 0);
    uint32_t h = isthmus_u32_aligned(b + 16 + e) >> k;
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        w[i] = d1 * (float)(((q >> (8 * i)) & 0x0f) | (((h >> (8 * i)) & 1) << 4)) - m1;
    }
}

// Q6_K: { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; } = 210 bytes, 256 elements.
// Item k: half n = k/4 of 128 elements, group g = k%4 of 32 inside it (ggml's dequantize_row_q6_K);
// elements l and l+16 of a group have different scales, so a quad (4-aligned) has one.
ISTHMUS_HD void isthmus_quad_q6_k(const uint8_t *row, int item, int e, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 210;
    int k = item & 7;
    int n = k >> 2;
    int g = k & 3;
    // 210-byte blocks: the quad's bytes sit at even offsets, two halfword loads each.
    const uint8_t *qlp = b + 64 * n + ((g & 1) ? 32 : 0) + e;
    const uint8_t *qhp = b + 128 + 32 * n + e;
    uint32_t qlw = isthmus_u16_even(qlp) | ((uint32_t)isthmus_u16_even(qlp + 2) << 16);
    uint32_t qhw = isthmus_u16_even(qhp) | ((uint32_t)isthmus_u16_even(qhp + 2) << 16);
    float scale = (float)((const int8_t *)(b + 192))[8 * n + 2 * g + e / 16];
    float d = isthmus_f16_at(b + 208);
    int lowShift = (g >= 2) ? 4 : 0;
    int highShift = 2 * g;
    for (int i = 0; i < ISTHMUS_QUAD; i++) {
        int q = (int)(((qlw >> (8 * i + lowShift)) & 0x0f) | (((qhw >> (8 * i + highShift)) & 3) << 4)) - 32;
        w[i] = d * scale * (float)q;
    }
}

// Decodes quad `e / 4` of item `item` of a row; TYPE is a compile-time constant in the kernels, so the
// switch folds away there.
ISTHMUS_HD bool isthmus_decode_quad(int type, const uint8_t *row, int item, int e, int cols, float *w) {
    switch (type) {
        case ISTHMUS_F32: isthmus_quad_f32(row, item, e, cols, w); return true;
        case ISTHMUS_F16: isthmus_quad_f16(row, item, e, cols, w); return true;
        case ISTHMUS_Q4_0: isthmus_quad_q4_0(row, item, e, w); return true;
        case ISTHMUS_Q8_0: isthmus_quad_q8_0(row, item, e, w); return true;
        case ISTHMUS_Q4_1: isthmus_quad_q4_1(row, item, e, w); return true;
        case ISTHMUS_Q5_0: isthmus_quad_q5_0(row, item, e, w); return true;
        case ISTHMUS_Q5_1: isthmus_quad_q5_1(row, item, e, w); return true;
        case ISTHMUS_IQ4_NL: isthmus_quad_iq4_nl(row, item, e, w); return true;
        case ISTHMUS_Q2_K: isthmus_quad_q2_k(row, item, e, w); return true;
        case ISTHMUS_Q3_K: isthmus_quad_q3_k(row, item, e, w); return true;
        case ISTHMUS_Q4_K: isthmus_quad_q4_k(row, item, e, w); return true;
        case ISTHMUS_Q5_K: isthmus_quad_q5_k(row, item, e, w); return true;
        case ISTHMUS_Q6_K: isthmus_quad_q6_k(row, item, e, w); return true;
        default: return false;
    }
}

