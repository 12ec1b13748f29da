/*
 * tok_wpm.c - WordPiece ("bert" vocabularies).  Placeholder until the full implementation.
 */
#include "engine/tok/tok.h"

#include "engine/tok/tok_int.h"

int tok__wpm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o)
{
    (void)s;
    if (n && v->unk >= 0)
        tok__emit(o, v->unk);
    return 0;
}
