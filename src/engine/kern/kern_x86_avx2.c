/*
 * kern_x86_avx2.c - avx2 kernels (work in progress: currently the scalar reference).
 */
#include "engine/kern/kern_int.h"

#if defined(__x86_64__)
const struct kern kern__table_avx2 = {
    .isa = KERN_ISA_AVX2,
    .name = "avx2",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__ref_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = kern__ref_vec_dot,
    .mul_mat = kern__ref_mul_mat,
};
#endif
