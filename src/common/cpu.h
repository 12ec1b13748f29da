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
};

/* Bitmask of enum cpu_feature the CPU and the OS (saved register state) both support. */
unsigned cpu_features(void);
/* 1 when every feature in mask is supported. */
int cpu_has(unsigned mask);
/* 1 on a GenuineIntel CPU (kernel tuning that differs by vendor, e.g. software prefetch). */
int cpu_is_intel(void);

#endif
