/*
 * cpu.h - x86-64 CPU feature detection through CPUID and XGETBV (works the same with gcc and
 * clang, whose __builtin_cpu_supports accept different feature names).  Thread-safe, no state.
 */
#ifndef CORRAL_COMMON_CPU_H
#define CORRAL_COMMON_CPU_H

enum cpu_feature {
    CPU_AVX2 = 1 << 0,
    CPU_FMA = 1 << 1,
    CPU_F16C = 1 << 2,
    CPU_BMI2 = 1 << 3,
    CPU_AVX512F = 1 << 4,
    CPU_AVX512BW = 1 << 5,
    CPU_AVX512VL = 1 << 6,
    CPU_AVX512DQ = 1 << 7,
    CPU_AVX512VNNI = 1 << 8,
    CPU_AMX_TILE = 1 << 9, /* with the OS enabling the tile state in XCR0 (bits 17, 18) */
    CPU_AMX_INT8 = 1 << 10,
};

/* Bitmask of enum cpu_feature the CPU and the OS (saved register state) both support. */
unsigned cpu_features(void);
/* 1 when every feature in mask is supported. */
int cpu_has(unsigned mask);
/* 1 on a GenuineIntel CPU (kernel tuning that differs by vendor, e.g. software prefetch). */
int cpu_is_intel(void);
/* 1 when this process may use the AMX tile registers: Linux enables them per process on
 * request (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA; a tile instruction before that raises
 * SIGILL).  Asks the kernel when not granted yet; the grant is a property of the process that
 * the kernel keeps, so calling this again is cheap and needs no state here.  0 on CPUs without
 * AMX, on other OSes, or when the request fails (e.g. a seccomp filter denies arch_prctl). */
int cpu_amx_permit(void);

#endif
