/*
 * cpu.c - CPUID/XGETBV feature detection (see cpu.h).  A feature counts only when the OS saves
 * the registers it needs (XCR0 bits for YMM, and for ZMM/opmask), as the SDM requires.
 */
#include "common/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

unsigned cpu_features(void)
{
    unsigned a, b, c, d, f = 0;
    unsigned long long xcr0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 27))) /* OSXSAVE */
        return 0;
    xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
        return 0;
    if (c & (1u << 12))
        f |= CPU_FMA;
    if (c & (1u << 29))
        f |= CPU_F16C;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    if (b & (1u << 5))
        f |= CPU_AVX2;
    if (b & (1u << 8))
        f |= CPU_BMI2;
    if ((xcr0 & 0xe0) == 0xe0) { /* opmask, ZMM_Hi256, Hi16_ZMM */
        if (b & (1u << 16))
            f |= CPU_AVX512F;
        if (b & (1u << 17))
            f |= CPU_AVX512DQ;
        if (b & (1u << 30))
            f |= CPU_AVX512BW;
        if (b & (1u << 31))
            f |= CPU_AVX512VL;
        if (c & (1u << 11))
            f |= CPU_AVX512VNNI;
    }
    if ((xcr0 & 0x60000) == 0x60000) { /* XTILECFG, XTILEDATA */
        if (d & (1u << 24))
            f |= CPU_AMX_TILE;
        if (d & (1u << 25))
            f |= CPU_AMX_INT8;
    }
    return f;
}

int cpu_amx_permit(void)
{
#if defined(__linux__) && defined(__x86_64__)
    enum { GET_PERM = 0x1022, REQ_PERM = 0x1023, XTILEDATA = 18 };
    unsigned long long perm = 0;
    if (!cpu_has(CPU_AMX_TILE))
        return 0;
    if (syscall(SYS_arch_prctl, GET_PERM, &perm) == 0 && (perm & (1ull << XTILEDATA)))
        return 1;
    return syscall(SYS_arch_prctl, REQ_PERM, XTILEDATA) == 0;
#else
    return 0;
#endif
}

int cpu_is_intel(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 0;
    return b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu; /* "Genu" "ineI" "ntel" */
}
#else
unsigned cpu_features(void)
{
    return 0;
}

int cpu_amx_permit(void)
{
    return 0;
}

int cpu_is_intel(void)
{
    return 0;
}
#endif

int cpu_has(unsigned mask)
{
    return (cpu_features() & mask) == mask;
}
