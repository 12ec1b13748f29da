/*
 * tok_bpe.c - byte-level BPE ("gpt2" tokenizers): the pre-tokenizer regexes chosen by
 * tokenizer.ggml.pre (PCRE2, UTF + Unicode properties, JIT) and merging by lowest merge rank.
 *
 * Pre-tokenizing follows llama.cpp's unicode_regex_split: each regex splits every piece the
 * previous one produced; text between matches becomes a piece of its own.  The subject is
 * matched with PCRE2_MATCH_INVALID_UTF, so invalid UTF-8 never matches and ends up in gap
 * pieces, which are still encoded losslessly byte by byte (llama.cpp would substitute U+FFFD).
 * Merging: symbols start as single bytes (each byte is one character of the GPT-2 byte
 * alphabet), a binary heap (tok_heap.c) holds candidate pairs ordered by (rank, left position),
 * and a popped pair is used only if both symbols are unchanged.  Pair ranks and merged ids come
 * from the merge hash built at load time, so no strings are built while merging. The regexes were
 * written from the models' public tokenizer configurations (see
 * ../shared/docs/inference-reference.md D.5); (?i:...) is written as explicit case classes
 * where llama.cpp does so.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "engine/tok/tok.h"

#include <stdio.h>
#include <string.h>

#include <pcre2.h>

#include "common/mem.h"
#include "engine/tok/tok_int.h"

/* ---- regex sets per tokenizer.ggml.pre ------------------------------------------------- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3                                                                              \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                               \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN35                                                                        \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"                         \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK_DS       "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define RE_O200K_UPPER  "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_O200K_LOWER  "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_O200K_SUFFIX "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
#define RE_GPT4O                                                                    \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_O200K_UPPER "*" RE_O200K_LOWER "+" RE_O200K_SUFFIX  \
    "|[^\\r\\n\\p{L}\\p{N}]?" RE_O200K_UPPER "+" RE_O200K_LOWER "*" RE_O200K_SUFFIX \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_O200K_UPPER "*" RE_O200K_LOWER "+"  \
    "|[^\\r\\n\\p{L}\\p{N}]?" RE_O200K_UPPER "+" RE_O200K_LOWER "*" \
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)"

struct pre_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    int add_bos, ignore_merges;
    const char *re[TOK_MAX_REGEX];
};

static const struct pre_def pre_defs[] = {
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2", 1, 1, {RE_LLAMA3}},
    {"smaug-bpe|dbrx|chatglm-bpe", 0, 0, {RE_LLAMA3}},
    {"qwen2|deepseek-r1-qwen|megrez|stablelm2|hunyuan", 0, 0, {RE_QWEN2}},
    {"qwen35", 0, 0, {RE_QWEN35}},
    {"gpt-2|phi-2|mpt|olmo|jais|jina-es|jina-de|jina-v2-es|jina-v2-de|jina-v2-code|gpt-neox|"
     "trillion|roberta-bpe|gigachat",
     0,
     0,
     {RE_GPT2}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|granite",
     0,
     0,
     {"\\p{N}", RE_GPT2}},
    {"deepseek-llm",
     0,
     0,
     {"[\\r\\n]", "\\s?[\\p{Lu}\\p{Ll}\\p{Lt}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-"
      "\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+\\z", RE_CJK_DS, "\\p{N}+"}},
    {"deepseek-coder", 0, 0, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_DS, "\\p{N}"}},
    {"deepseek-v3",
     0,
     0,
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
      "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"falcon", 0, 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"gpt-4o|llama4", 0, 0, {RE_GPT4O}},
    {"tekken", 1, 1, {RE_TEKKEN}},
    /* "default" (absent or unknown pre) must stay last. */
    {"default", 0, 0, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
};

#define N_PRE_DEFS (sizeof(pre_defs) / sizeof(pre_defs[0]))

static int name_in(const char *names, const char *pre)
{
    size_t n = strlen(pre);
    const char *p = names;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, pre, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static const struct pre_def *find_pre(const char *pre)
{
    for (size_t i = 0; i < N_PRE_DEFS; i++)
        if (name_in(pre_defs[i].names, pre))
            return &pre_defs[i];
    return &pre_defs[N_PRE_DEFS - 1];
}

void tok__bpe_pre_defaults(const char *pre, int *add_bos, int *ignore_merges)
{
    const struct pre_def *d = find_pre(pre);
    *add_bos = d->add_bos;
    *ignore_merges = d->ignore_merges;
}

int tok__bpe_init(struct tok_vocab *v, struct err_info *ei)
{
    const struct pre_def *d = find_pre(v->pre);
    for (int i = 0; i < TOK_MAX_REGEX && d->re[i]; i++) {
        int err = 0;
        PCRE2_SIZE at = 0;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return err_set(ei, E_INTERNAL, "pre-tokenizer '%s' regex %d: %s at %zu", v->pre, i,
                           (const char *)msg, (size_t)at);
        }
        /* JIT is an optimisation: without it (no JIT support) matching is still correct. */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        v->re[v->n_re++] = re;
    }
    return 0;
}

void tok__bpe_fini(struct tok_vocab *v)
{
    for (uint32_t i = 0; i < v->n_re; i++)
        pcre2_code_free(v->re[i]);
    v->n_re = 0;
}

/* ---- pre-tokenizer splitting --------------------------------------------------------------- */

struct span {
    size_t off, len;
};

struct spans {
    struct span *p;
    size_t n, cap;
};

static int spans_push(struct spans *s, size_t off, size_t len)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        struct span *np = mem_realloc_array(s->p, nc, sizeof(*np));
        if (!np)
            return E_NOMEM;
        s->p = np, s->cap = nc;
    }
    s->p[s->n].off = off;
    s->p[s->n++].len = len;
    return 0;
}

/* Splits text[sp.off, +sp.len) by re into out (matches and the gaps between them). */
static int split_one(const pcre2_code *re, pcre2_match_data *md, const char *text, struct span sp,
                     struct spans *out)
{
    const char *subj = text + sp.off;
    size_t start = 0, prev = 0;
    int rc;
    while (start < sp.len) {
        int m = pcre2_match(re, (PCRE2_SPTR)subj, sp.len, start, 0, md, NULL);
        if (m < 0)
            break; /* no match (or a matching error): the rest is a gap */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > prev && (rc = spans_push(out, sp.off + prev, ms - prev)))
            return rc;
        if (me > ms) {
            if ((rc = spans_push(out, sp.off + ms, me - ms)))
                return rc;
            prev = start = me;
        } else {
            start = ms + tok__utf8_len((unsigned char)subj[ms]);
        }
    }
    if (prev < sp.len && (rc = spans_push(out, sp.off + prev, sp.len - prev)))
        return rc;
    return 0;
}

static int pre_split(const struct tok_vocab *v, const char *s, size_t n, struct spans *res)
{
    struct spans cur = {0}, nxt = {0};
    pcre2_match_data *md = NULL;
    int rc;
    if ((rc = spans_push(&cur, 0, n)))
        goto out;
    for (uint32_t i = 0; i < v->n_re; i++) {
        pcre2_match_data_free(md);
        if (!(md = pcre2_match_data_create_from_pattern(v->re[i], NULL))) {
            rc = E_NOMEM;
            goto out;
        }
        nxt.n = 0;
        for (size_t k = 0; k < cur.n; k++)
            if ((rc = split_one(v->re[i], md, s, cur.p[k], &nxt)))
                goto out;
        struct spans t = cur;
        cur = nxt, nxt = t;
    }
    *res = cur;
    cur.p = NULL;
out:
    pcre2_match_data_free(md);
    mem_free(cur.p);
    mem_free(nxt.p);
    return rc;
}

/* ---- merging ------------------------------------------------------------------------------ */

struct sym {
    int32_t prev, next;
    int32_t id;      /* token of this symbol's text, -1 if none */
    uint32_t off, n; /* bytes of the word */
};

struct bpe_work {
    struct sym *sym;
    struct tok_heap heap; /* ordered by rank */
};

static void try_pair(const struct tok_vocab *v, struct bpe_work *w, int32_t l, int32_t r)
{
    int32_t result = -1;
    if (l < 0 || r < 0)
        return;
    int64_t rank = tok__merge_rank(v, w->sym[l].id, w->sym[r].id, &result);
    if (rank < 0)
        return;
    struct tok_pair p = {0.0f, (uint32_t)rank, l, r, result, w->sym[l].n + w->sym[r].n};
    tok__heap_push(&w->heap, &p);
}

static void emit_symbol(const struct tok_vocab *v, const char *word, const struct sym *s,
                        struct tok_out *o)
{
    if (s->id >= 0) {
        tok__emit(o, s->id);
        return;
    }
    for (uint32_t k = 0; k < s->n; k++) {
        int32_t b = v->byte_tok[(unsigned char)word[s->off + k]];
        if (b >= 0)
            tok__emit(o, b);
        else if (v->unk >= 0)
            tok__emit(o, v->unk);
    }
}

/* Byte-level text of word[0..n) (GPT-2 alphabet) into out (2 bytes per byte at most). */
static size_t map_word(const struct tok_vocab *v, const char *word, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = v->byte_tok[(unsigned char)word[i]];
        uint32_t l = id >= 0 ? v->text_len[id] : 0;
        memcpy(out + k, v->text_pool + (id >= 0 ? v->text_off[id] : 0), l);
        k += l;
    }
    return k;
}

static int encode_word(const struct tok_vocab *v, const char *word, size_t n, struct bpe_work *w,
                       struct tok_out *o)
{
    if (v->ignore_merges && n <= TOK_MAX_TOKEN_BYTES / 2) {
        char mapped[TOK_MAX_TOKEN_BYTES + 8];
        int32_t id = tok__lookup(v, mapped, map_word(v, word, n, mapped));
        if (id >= 0) {
            tok__emit(o, id);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        w->sym[i].prev = (int32_t)i - 1;
        w->sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
        w->sym[i].id = v->byte_tok[(unsigned char)word[i]];
        w->sym[i].off = (uint32_t)i;
        w->sym[i].n = 1;
    }
    w->heap.n = 0;
    for (size_t i = 1; i < n; i++)
        try_pair(v, w, (int32_t)i - 1, (int32_t)i);
    while (w->heap.n > 0) {
        struct tok_pair p = tok__heap_pop(&w->heap);
        struct sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
            continue; /* outdated: one side changed since the pair was queued */
        l->n += r->n;
        l->id = p.result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        try_pair(v, w, l->prev, p.left);
        try_pair(v, w, p.left, l->next);
    }
    if (w->heap.oom)
        return E_NOMEM;
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        emit_symbol(v, word, &w->sym[i], o);
    return 0;
}

int tok__bpe_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o)
{
    struct spans words = {0};
    struct bpe_work w = {0};
    size_t longest = 0;
    int rc;
    if (n == 0)
        return 0;
    if ((rc = pre_split(v, s, n, &words)))
        goto out;
    for (size_t i = 0; i < words.n; i++)
        if (words.p[i].len > longest)
            longest = words.p[i].len;
    w.sym = mem_alloc_array(longest ? longest : 1, sizeof(*w.sym));
    if (!w.sym) {
        rc = E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < words.n && rc == 0; i++)
        if (words.p[i].len > 0)
            rc = encode_word(v, s + words.p[i].off, words.p[i].len, &w, o);
out:
    mem_free(words.p);
    mem_free(w.sym);
    tok__heap_free(&w.heap);
    return rc;
}
