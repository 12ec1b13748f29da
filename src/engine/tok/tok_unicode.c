/*
 * tok_unicode.c - the few Unicode facts WordPiece needs: character classes, simple lowercase
 * and the base character of a canonical decomposition (accent stripping).  The tables are
 * generated (gen_unicode_tab.py -> tok_unicode_tab.h) and searched by binary search.
 */
#include "engine/tok/tok.h"

#include <stddef.h>
#include <stdint.h>

#include "engine/tok/tok_int.h"
#include "engine/tok/tok_unicode_tab.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

uint32_t tok__uc_flags(uint32_t cp)
{
    size_t lo = 0, hi = N_OF(uc_flag_first);
    /* Last breakpoint <= cp. */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (uc_flag_first[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return cp < 0x110000 ? uc_flag_val[lo] : 0;
}

uint32_t tok__uc_lower(uint32_t cp)
{
    size_t lo = 0, hi = N_OF(uc_lower);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (uc_lower[mid][0] == cp)
            return uc_lower[mid][1];
        if (uc_lower[mid][0] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

uint32_t tok__uc_nfd_base(uint32_t cp)
{
    size_t lo = 0, hi = N_OF(uc_nfd);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < uc_nfd[mid][0])
            hi = mid;
        else if (cp > uc_nfd[mid][1])
            lo = mid + 1;
        else
            return uc_nfd[mid][2];
    }
    return cp;
}
