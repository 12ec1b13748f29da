/*
 * kern_dispatch.c - picks the kernel table for this CPU: CPUID (common/cpu.h) at each call
 * (cheap; nothing cached, so no mutable global state), capped by
 * CORRAL_KERN=scalar|avx2|avx512|amx.  AVX2 needs AVX2+FMA+F16C+BMI2; AVX-512 needs those and
 * F+BW+VL+DQ+VNNI; AMX needs AVX-512, AMX-TILE+AMX-INT8 and the kernel's per-process grant of
 * the tile state (cpu_amx_permit, asked for here).  Each SIMD level has
 * a twin table whose one-token products prefetch the weights in software (KERN_PF): chosen on
 * Intel CPUs, where it doubles the gemv stream, and on AMD CPUs without AVX-512 (measured on
 * Zen 3: Q8_0 gemv 16.6 -> 20-22 GB/s, packed Q5_0 16 -> 19-23), not on AMD with AVX-512 (Zen 4),
 * where it cost 10-20 %; CORRAL_PREFETCH=0|1 overrides.
 */
#include "engine/kern/kern.h"

#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "engine/kern/kern_int.h"

static int isa_supported(enum kern_isa isa)
{
#if defined(__x86_64__)
    /* the ISA files are compiled with -mbmi2 too (the compiler may emit shlx/shrx) */
    int avx2 = cpu_has(CPU_AVX2 | CPU_FMA | CPU_F16C | CPU_BMI2);
    if (isa == KERN_ISA_AVX2)
        return avx2;
    if (isa == KERN_ISA_AVX512)
        return avx2 &&
               cpu_has(CPU_AVX512F | CPU_AVX512BW | CPU_AVX512VL | CPU_AVX512DQ | CPU_AVX512VNNI);
    if (isa == KERN_ISA_AMX)
        return isa_supported(KERN_ISA_AVX512) && cpu_has(CPU_AMX_TILE | CPU_AMX_INT8) &&
               cpu_amx_permit();
#endif
    return isa == KERN_ISA_SCALAR;
}

static int want_prefetch(void)
{
    const char *e = getenv("CORRAL_PREFETCH");
    if (e && *e)
        return strcmp(e, "0") != 0;
    return cpu_is_intel() || !cpu_has(CPU_AVX512F);
}

static const struct kern *table(enum kern_isa isa)
{
    switch (isa) {
    case KERN_ISA_SCALAR:
        return &kern__table_scalar;
#if defined(__x86_64__)
    case KERN_ISA_AVX2:
        return want_prefetch() ? &kern__table_avx2_pf : &kern__table_avx2;
    case KERN_ISA_AVX512:
        return want_prefetch() ? &kern__table_avx512_pf : &kern__table_avx512;
    case KERN_ISA_AMX:
        return want_prefetch() ? &kern__table_amx_pf : &kern__table_amx;
#endif
    default:
        return NULL;
    }
}

static enum kern_isa env_cap(void)
{
    const char *e = getenv("CORRAL_KERN");
    if (!e || !*e)
        return KERN_ISA_AMX;
    if (strcmp(e, "scalar") == 0)
        return KERN_ISA_SCALAR;
    if (strcmp(e, "avx2") == 0)
        return KERN_ISA_AVX2;
    if (strcmp(e, "avx512") == 0)
        return KERN_ISA_AVX512;
    return KERN_ISA_AMX;
}

const struct kern *kern_get(enum kern_isa isa)
{
    if (isa != KERN_ISA_BEST)
        return isa_supported(isa) ? table(isa) : NULL;
    for (int i = (int)env_cap(); i > (int)KERN_ISA_SCALAR; i--)
        if (isa_supported((enum kern_isa)i) && table((enum kern_isa)i))
            return table((enum kern_isa)i);
    return &kern__table_scalar;
}
