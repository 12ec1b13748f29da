/*
 * api_llm.c - keep_alive parsing and the option table/merge shared by /api/generate and
 * /api/chat (see api_llm.h).  Option names, types and the deprecated list follow
 * ollama-reference.md section 1.1.
 */
#include "api/api_llm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "api"
#include "common/json.h"
#include "common/log.h"

#define NS_PER_S 1000000000.0

static const struct {
    const char *name;
    enum api_opt_type type;
} options[] = {
    {"num_ctx", API_OPT_INT},
    {"num_predict", API_OPT_INT},
    {"num_keep", API_OPT_INT},
    {"temperature", API_OPT_FLOAT},
    {"top_k", API_OPT_INT},
    {"top_p", API_OPT_FLOAT},
    {"min_p", API_OPT_FLOAT},
    {"typical_p", API_OPT_FLOAT},
    {"repeat_last_n", API_OPT_INT},
    {"repeat_penalty", API_OPT_FLOAT},
    {"presence_penalty", API_OPT_FLOAT},
    {"frequency_penalty", API_OPT_FLOAT},
    {"seed", API_OPT_INT},
    {"stop", API_OPT_STRS},
    {"num_batch", API_OPT_INT},
    {"num_gpu", API_OPT_INT},
    {"main_gpu", API_OPT_INT},
    {"use_mmap", API_OPT_BOOL},
    {"num_thread", API_OPT_INT},
    {"draft_num_predict", API_OPT_INT},
};

static const char *const deprecated[] = {
    "penalize_newline",
    "low_vram",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "use_mlock",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
    "numa",
    "num_gqa",
    "tfs_z",
    "rope_frequency_base",
    "rope_frequency_scale",
};

static int unit_ns(const char *u, size_t n, double *out)
{
    static const struct {
        const char *u;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].u) == n && memcmp(units[i].u, u, n) == 0) {
            *out = units[i].ns;
            return 0;
        }
    return E_INVAL;
}

/* Go's time.ParseDuration, to float nanoseconds. */
static int parse_go_duration(const char *s, double *out)
{
    double total = 0, sign = 1;
    if (*s == '-' || *s == '+')
        sign = *s++ == '-' ? -1 : 1;
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (!*s)
        return E_INVAL;
    while (*s) {
        char *end;
        const char *u;
        double v, mul;
        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return E_INVAL;
        v = strtod(s, &end);
        if (end == s)
            return E_INVAL;
        u = end;
        while (*end && !((*end >= '0' && *end <= '9') || *end == '.'))
            end++;
        if (unit_ns(u, (size_t)(end - u), &mul) != 0)
            return E_INVAL;
        total += v * mul;
        s = end;
    }
    *out = sign * total;
    return 0;
}

static int64_t clamp_ns(double ns)
{
    if (ns < 0 || ns >= 9.2e18)
        return API_KEEP_FOREVER;
    return (int64_t)ns;
}

int api_parse_keep_alive(const json_t *v, int64_t *ns, struct err_info *ei)
{
    double d;
    if (!v || json_is_null(v)) {
        *ns = API_KEEP_UNSET;
        return 0;
    }
    if (json_is_number(v)) {
        d = json_number_value(v);
        if (!isfinite(d))
            return err_set(ei, E_INVAL, "invalid keep_alive");
        *ns = clamp_ns(d * NS_PER_S);
        return 0;
    }
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        char *end;
        if (parse_go_duration(str, &d) == 0) {
            *ns = clamp_ns(d);
            return 0;
        }
        d = strtod(str, &end); /* a bare number of seconds, as OLLAMA_KEEP_ALIVE allows */
        if (*str && *end == '\0' && isfinite(d)) {
            *ns = clamp_ns(d * NS_PER_S);
            return 0;
        }
        return err_set(ei, E_INVAL, "time: invalid duration \"%s\"", str);
    }
    /* api.Duration's UnmarshalJSON names the Go type of the decoded value */
    return err_set(ei, E_INVAL, "Unsupported type: '%s'",
                   json_is_boolean(v) ? "bool"
                   : json_is_array(v) ? "[]interface {}"
                                      : "map[string]interface {}");
}

int api_option_type(const char *name)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        if (strcmp(options[i].name, name) == 0)
            return (int)options[i].type;
    return -1;
}

static int is_deprecated(const char *name)
{
    for (size_t i = 0; i < sizeof(deprecated) / sizeof(deprecated[0]); i++)
        if (strcmp(deprecated[i], name) == 0)
            return 1;
    return 0;
}

/* Checks v against the option's type; returns a new reference of the normalised value. */
static int check_value(const char *key, json_t *v, json_t **out, struct err_info *ei)
{
    size_t i;
    json_t *e;
    switch ((enum api_opt_type)api_option_type(key)) {
    case API_OPT_INT:
        if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
            fabs(json_number_value(v)) > 9.2e18)
            return err_set(ei, E_INVAL, "option \"%s\" must be of type integer", key);
        *out = json_integer((json_int_t)json_number_value(v));
        break;
    case API_OPT_FLOAT:
        if (!json_is_number(v))
            return err_set(ei, E_INVAL, "option \"%s\" must be of type float32", key);
        *out = json_incref(v);
        break;
    case API_OPT_BOOL:
        if (!json_is_boolean(v))
            return err_set(ei, E_INVAL, "option \"%s\" must be of type boolean", key);
        *out = json_incref(v);
        break;
    case API_OPT_STRS:
        if (json_is_string(v)) {
            *out = json_pack("[O]", v);
            break;
        }
        if (!json_is_array(v))
            return err_set(ei, E_INVAL, "option \"%s\" must be of type array", key);
        json_array_foreach(v, i, e) if (!json_is_string(e)) return err_set(
            ei, E_INVAL, "option \"%s\" must be of an array of strings", key);
        *out = json_incref(v);
        break;
    }
    return *out ? 0 : E_NOMEM;
}

static int overlay(json_t *dst, const json_t *src, struct err_info *ei)
{
    const char *key;
    json_t *v, *nv = NULL;
    int rc;
    if (!src || json_is_null(src))
        return 0;
    if (!json_is_object(src))
        return err_set(ei, E_INVAL,
                       "json: cannot unmarshal %s into Go struct field %s.options of type "
                       "map[string]interface {}",
                       json_type_name(src), json_go_struct());
    json_object_foreach((json_t *)src, key, v)
    {
        if (json_is_null(v))
            continue;
        if (api_option_type(key) < 0) {
            if (!is_deprecated(key))
                LOG_WARN("invalid option provided option=%s", key);
            continue;
        }
        if ((rc = check_value(key, v, &nv, ei)) != 0)
            return rc;
        if (json_object_set_new(dst, key, nv) != 0)
            return E_NOMEM;
    }
    return 0;
}

int api_options_merge(const json_t *params, const json_t *req, json_t **out, struct err_info *ei)
{
    json_t *o = json_object();
    int rc;
    if (!o)
        return E_NOMEM;
    if ((rc = overlay(o, params, ei)) != 0 || (rc = overlay(o, req, ei)) != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}
