/*
 * kern_types.c - type facts (block sizes, row bytes), exact fp16/bf16 conversions and the
 * elementwise float helpers the model code uses (rmsnorm, softmax, silu_mul, add, dot, axpy).
 * The helpers are plain C compiled with -O3; they are O(n) next to the O(n*m) matmuls.
 */
#include "engine/kern/kern.h"

#include <math.h>
#include <string.h>

#include "engine/kern/kern_int.h"

struct type_fact {
    uint32_t elems;
    uint32_t bytes;
    int compute; /* usable as weights */
};

static struct type_fact type_fact(uint32_t type)
{
    struct type_fact f = {0, 0, 0};
    switch (type) {
    case KERN_T_F32:
        f = (struct type_fact){1, 4, 1};
        break;
    case KERN_T_F16:
        f = (struct type_fact){1, 2, 1};
        break;
    case KERN_T_BF16:
        f = (struct type_fact){1, 2, 1};
        break;
    case KERN_T_Q4_0:
        f = (struct type_fact){32, 18, 1};
        break;
    case KERN_T_Q4_1:
        f = (struct type_fact){32, 20, 1};
        break;
    case KERN_T_Q5_0:
        f = (struct type_fact){32, 22, 1};
        break;
    case KERN_T_Q5_1:
        f = (struct type_fact){32, 24, 1};
        break;
    case KERN_T_Q8_0:
        f = (struct type_fact){32, 34, 1};
        break;
    case KERN_T_Q8_1:
        f = (struct type_fact){32, 36, 0};
        break;
    case KERN_T_Q2_K:
        f = (struct type_fact){256, 84, 1};
        break;
    case KERN_T_Q3_K:
        f = (struct type_fact){256, 110, 1};
        break;
    case KERN_T_Q4_K:
        f = (struct type_fact){256, 144, 1};
        break;
    case KERN_T_Q5_K:
        f = (struct type_fact){256, 176, 1};
        break;
    case KERN_T_Q6_K:
        f = (struct type_fact){256, 210, 1};
        break;
    case KERN_T_Q8_K:
        f = (struct type_fact){256, 292, 0};
        break;
    /* packed (kern_pack.c), per row: one eighth of a group's block */
    case KERN_T_Q4_0_X8:
        f = (struct type_fact){32, 18, 0};
        break;
    case KERN_T_Q5_0_X8:
        f = (struct type_fact){32, 22, 0};
        break;
    case KERN_T_Q8_0_X8:
        f = (struct type_fact){32, 34, 0};
        break;
    case KERN_T_Q4_K_X8:
        f = (struct type_fact){256, 148, 0};
        break;
    case KERN_T_Q5_K_X8:
        f = (struct type_fact){256, 180, 0};
        break;
    case KERN_T_Q6_K_X8:
        f = (struct type_fact){256, 210, 0};
        break;
    default:
        break;
    }
    return f;
}

uint32_t kern_type_block_elems(uint32_t type)
{
    return type_fact(type).elems;
}

uint32_t kern_type_block_bytes(uint32_t type)
{
    return type_fact(type).bytes;
}

size_t kern_row_bytes(uint32_t type, int64_t n)
{
    struct type_fact f = type_fact(type);
    if (f.elems == 0 || n < 0 || n % f.elems != 0)
        return 0;
    uint64_t nb = (uint64_t)n / f.elems;
    if (nb > SIZE_MAX / f.bytes)
        return 0;
    return (size_t)(nb * f.bytes);
}

int kern_type_supported(uint32_t type)
{
    return type_fact(type).compute;
}

/* ---- fp16 / bf16 ---- */

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float kern_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) /* inf / nan: keep the payload */
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t kern_f32_to_fp16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* nan: quiet, keep top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000u) /* rounds to >= 65536: inf */
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x38800000u) {
        /* result subnormal or zero: scale so the units are 2^-24 and round to nearest even */
        if (a < 0x33000000u) /* < 2^-25: rounds to zero (2^-25 itself is a tie to 0) */
            return sign;
        uint32_t man = (a & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(a >> 23); /* value = man * 2^(e-150); want units of 2^-24 */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias and round the 13 dropped bits to nearest even (carry may bump exponent) */
    uint32_t r = a + 0xfff + ((a >> 13) & 1);
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float kern_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t kern_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* ---- elementwise helpers ---- */

void kern_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    /* as ggml: float squares summed in double, mean rounded to float, then 1/sqrtf */
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)(x[i] * x[i]);
    float mean = (float)(ss / (double)(n > 0 ? n : 1));
    float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void kern_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += (double)x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void kern_silu_mul(float *out, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void kern_add(float *out, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

float kern_dot_f32(const float *a, const float *b, int64_t n)
{
    /* 8 partial sums: vectorizes, and is more accurate than one running sum */
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += a[i + k] * b[i + k];
    float s = 0.0f;
    for (; i < n; i++)
        s += a[i] * b[i];
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

void kern_axpy(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}
