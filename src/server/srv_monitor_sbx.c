/*
 * srv_monitor_sbx.c - the daemon's sandbox as `corral serve` drives it: mode and kernel
 * detection, the monitor fork (before any thread), then after start-up the identity key read
 * into memory and the server profile applied (src/sandbox), and the status published for the
 * log and /api/version.  Owns the monitor handle, the key and the status object.
 */
#include "server/srv_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "sandbox"
#include "api/api.h"
#include "common/log.h"
#include "common/mem.h"

json_t *srv_sandbox_info(enum sbx_mode mode, const struct sbx_status *st,
                         const struct sbx_applied *a, int monitor)
{
    json_t *o = json_object(), *layers = json_array();
    if (!o || !layers) {
        json_decref(o);
        json_decref(layers);
        return NULL;
    }
    json_object_set_new(o, "mode", json_string(sbx_mode_name(mode)));
    json_object_set_new(o, "landlock_abi", json_integer(st->landlock_abi));
    json_object_set_new(o, "seccomp", json_boolean(st->seccomp));
    if (a->landlock_abi)
        json_array_append_new(layers, json_string("landlock-fs"));
    if (a->net)
        json_array_append_new(layers, json_string("landlock-bind"));
    if (a->seccomp)
        json_array_append_new(layers, json_string("seccomp"));
    if (a->caps_dropped)
        json_array_append_new(layers, json_string("caps-dropped"));
    if (monitor)
        json_array_append_new(layers, json_string("monitor"));
    json_object_set_new(o, "layers", layers);
    return o;
}

int srv_sandbox_begin(struct srv_sandbox *sb, struct err_info *ei)
{
    int rc;
    memset(sb, 0, sizeof(sb[0]));
    if (sbx_mode_parse(getenv("CORRAL_SANDBOX"), &sb->mode) != 0)
        return err_set(ei, E_INVAL, "CORRAL_SANDBOX must be enforce, warn or off");
    sbx_status_get(&sb->st);
    if (sb->mode == SBX_MODE_ENFORCE && (sb->st.landlock_abi < 1 || !sb->st.seccomp)) {
        sb->refused = 1;
        fprintf(stderr, "%s\n", sbx_missing_paragraph(&sb->st)); /* longer than ei holds */
        return err_set(ei, E_UNSUPPORTED, "sandbox enforce: %s is not available; not starting",
                       sb->st.landlock_abi < 1 ? "Landlock" : "seccomp");
    }
    if ((rc = srv_monitor_start(&sb->mon, ei)) != 0)
        return rc;
    srv_monitor_attach_runners(sb->mon);
    return 0;
}

/* The identity key, read (created when missing, as Ollama's serve does) while files are open. */
static void load_key(struct srv_sandbox *sb)
{
    int rc = reg_key_load(NULL, 1, &sb->key);
    if (rc != 0) {
        sb->key = NULL;
        LOG_WARN("identity key not loaded (%s); pushes that need it will fail", err_str(rc));
    }
}

static void auth_path(struct srv_sandbox *sb)
{
    const char *home = getenv("HOME");
    sb->auth_path[0] = '\0';
    if (home && *home &&
        (size_t)snprintf(sb->auth_path, sizeof(sb->auth_path), "%s/.ollama/registry-auth.json",
                         home) >= sizeof(sb->auth_path))
        sb->auth_path[0] = '\0';
}

static void log_status(const struct srv_sandbox *sb)
{
    char *s = json_dumps(sb->info, JSON_COMPACT);
    LOG_INFO("sandbox: %s", s ? s : "?");
    if (sb->mode == SBX_MODE_WARN && (!sb->applied.landlock_abi || !sb->applied.seccomp))
        LOG_WARN("sandbox mode warn: some layers are missing (%s)",
                 !sb->applied.landlock_abi ? "Landlock" : "seccomp");
    mem_free(s); /* jansson allocates with malloc; mem_free is free */
}

int srv_sandbox_enter(struct srv_sandbox *sb, const char *models_dir, int port, struct api_env *env,
                      struct err_info *ei)
{
    struct sbx_server_policy pol;
    int rc;
    load_key(sb);
    auth_path(sb);
    sbx_server_policy_default(&pol, models_dir, sb->auth_path[0] ? sb->auth_path : NULL, port);
    if ((rc = sbx_server_enter(sb->mode, &pol, &sb->applied, ei)) != 0)
        return rc;
    sb->conn.fn = sb->mon ? srv_monitor_connect : NULL;
    sb->conn.ctx = sb->mon;
    sb->conn.key = sb->key;
    env->user[REG_ENV_SLOT] = &sb->conn;
    env->sandbox_mode = sbx_mode_name(sb->mode);
    sb->info = srv_sandbox_info(sb->mode, &sb->st, &sb->applied, sb->mon != NULL);
    env->sandbox_info = sb->info;
    log_status(sb);
    return 0;
}

void srv_sandbox_fini(struct srv_sandbox *sb)
{
    srv_monitor_attach_runners(NULL);
    srv_monitor_close(sb->mon);
    sb->mon = NULL;
    reg_key_free(sb->key);
    sb->key = NULL;
    json_decref(sb->info);
    sb->info = NULL;
}
