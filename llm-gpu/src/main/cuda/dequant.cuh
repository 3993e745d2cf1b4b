// Block decoders shared by the kernels (device) and the host-side layout check (host): one source of
// truth for how GGUF blocks turn into floats, so the layout can be tested on machines without a GPU.
//
// A "item" is 32 consecutive elements of a row: one block of Q4_0/Q8_0, one eighth of a Q4_K/Q6_K
// super-block, or 32 plain F16/F32 values (fewer in the last item when a plain row is not a multiple
// of 32). Kernels hand items to warp lanes, so every decoder works on exactly one item.
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
#define ISTHMUS_Q8_0 8
#define ISTHMUS_Q4_K 12
#define ISTHMUS_Q6_K 14

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

ISTHMUS_HD float isthmus_f16_at(const uint8_t *p) {
    return isthmus_half_to_float(isthmus_u16(p));
}

// Elements of item `item` in a row of `cols` elements (32 except a short tail of a plain row).
ISTHMUS_HD int isthmus_item_length(int item, int cols) {
    int rest = cols - item * ISTHMUS_ITEM;
    return rest < ISTHMUS_ITEM ? rest : ISTHMUS_ITEM;
}

ISTHMUS_HD int isthmus_decode_f32(const uint8_t *row, int item, int cols, float *w) {
    int n = isthmus_item_length(item, cols);
    const uint8_t *p = row + (size_t)item * ISTHMUS_ITEM * 4;
    for (int j = 0; j < n; j++) {
        union { uint32_t u; float f; } v;
        v.u = (uint32_t)p[4 * j] | ((uint32_t)p[4 * j + 1] << 8) | ((uint32_t)p[4 * j + 2] << 16)
              | ((uint32_t)p[4 * j + 3] << 24);
        w[j] = v.f;
    }
    return n;
}

ISTHMUS_HD int isthmus_decode_f16(const uint8_t *row, int item, int cols, float *w) {
    int n = isthmus_item_length(item, cols);
    const uint8_t *p = row + (size_t)item * ISTHMUS_ITEM * 2;
    for (int j = 0; j < n; j++) {
        w[j] = isthmus_f16_at(p + 2 * j);
    }
    return n;
}

// Q8_0: { half d; int8 qs[32]; } = 34 bytes; w = d * q.
ISTHMUS_HD int isthmus_decode_q8_0(const uint8_t *row, int item, int cols, float *w) {
    const uint8_t *b = row + (size_t)item * 34;
    float d = isthmus_f16_at(b);
    for (int j = 0; j < 32; j++) {
        w[j] = d * (float)(int8_t)b[2 + j];
    }
    return 32;
}

// Q4_0: { half d; uint8 qs[16]; } = 18 bytes; low nibbles are elements 0..15, high nibbles 16..31.
ISTHMUS_HD int isthmus_decode_q4_0(const uint8_t *row, int item, int cols, float *w) {
    const uint8_t *b = row + (size_t)item * 18;
    float d = isthmus_f16_at(b);
    for (int j = 0; j < 16; j++) {
        w[j] = d * (float)((b[2 + j] & 0x0f) - 8);
        w[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
    return 32;
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

// Q4_K: { half d; half dmin; uint8 scales[12]; uint8 qs[128]; } = 144 bytes, 256 elements.
// Item k of the block is sub-block k: chunk k/2 of 64 elements, low (k even) or high nibbles.
ISTHMUS_HD int isthmus_decode_q4_k(const uint8_t *row, int item, int cols, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 144;
    int k = item & 7;
    float d = isthmus_f16_at(b);
    float dmin = isthmus_f16_at(b + 2);
    uint8_t sc;
    uint8_t m;
    isthmus_scale_min_k4(k, b + 4, &sc, &m);
    float d1 = d * (float)sc;
    float m1 = dmin * (float)m;
    const uint8_t *q = b + 16 + 32 * (k >> 1);
    int shift = (k & 1) ? 4 : 0;
    for (int l = 0; l < 32; l++) {
        w[l] = d1 * (float)((q[l] >> shift) & 0x0f) - m1;
    }
    return 32;
}

// Q6_K: { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; } = 210 bytes, 256 elements.
// Item k: half n = k/4 of 128 elements, group g = k%4 of 32 inside it (ggml's dequantize_row_q6_K).
ISTHMUS_HD int isthmus_decode_q6_k(const uint8_t *row, int item, int cols, float *w) {
    const uint8_t *b = row + (size_t)(item >> 3) * 210;
    int k = item & 7;
    int n = k >> 2;
    int g = k & 3;
    const uint8_t *ql = b + 64 * n + ((g & 1) ? 32 : 0);
    const uint8_t *qh = b + 128 + 32 * n;
    const int8_t *sc = (const int8_t *)(b + 192) + 8 * n + 2 * g;
    float d = isthmus_f16_at(b + 208);
    int lowShift = (g >= 2) ? 4 : 0;
    int highShift = 2 * g;
    for (int l = 0; l < 32; l++) {
        int q = (((ql[l] >> lowShift) & 0x0f) | (((qh[l] >> highShift) & 3) << 4)) - 32;
        w[l] = d * (float)sc[l / 16] * (float)q;
    }
    return 32;
}

// Items per row of `cols` elements.
ISTHMUS_HD int isthmus_items(int cols) {
    return (cols + ISTHMUS_ITEM - 1) / ISTHMUS_ITEM;
}

// Decodes one item of any supported type; returns its length, or -1 for an unknown type.
ISTHMUS_HD int isthmus_decode(int type, const uint8_t *row, int item, int cols, float *w) {
    switch (type) {
        case ISTHMUS_F32: return isthmus_decode_f32(row, item, cols, w);
        case ISTHMUS_F16: return isthmus_decode_f16(row, item, cols, w);
        case ISTHMUS_Q4_0: return isthmus_decode_q4_0(row, item, cols, w);
        case ISTHMUS_Q8_0: return isthmus_decode_q8_0(row, item, cols, w);
        case ISTHMUS_Q4_K: return isthmus_decode_q4_k(row, item, cols, w);
        case ISTHMUS_Q6_K: return isthmus_decode_q6_k(row, item, cols, w);
        default: return -1;
    }
}
