/*
 * sbx_cmd.c - `corral sandbox show`: what the kernel offers and which layers corral applies;
 * `corral sandbox selftest` (sbx_selftest.c) proves them by behaviour.
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmd.h"

static int cmd_sandbox(int argc, char **argv)
{
    struct sbx_status st;
    enum sbx_mode mode;
    if (argc >= 2 && !strcmp(argv[1], "selftest"))
        return sbx_selftest_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "show") != 0) {
        fprintf(stderr, "Usage:\n  corral sandbox show\n  corral sandbox selftest server|runner "
                        "[--port N]\n");
        return argc < 2 ? 1 : 2;
    }
    if (sbx_mode_parse(getenv("CORRAL_SANDBOX"), &mode) != 0) {
        fprintf(stderr, "Error: CORRAL_SANDBOX must be enforce, warn or off\n");
        return 1;
    }
    sbx_status_get(&st);
    printf("mode:          %s\n", sbx_mode_name(mode));
    if (st.landlock_abi > 0)
        printf("landlock:      ABI %d\n", st.landlock_abi);
    else
        printf("landlock:      unavailable (%s)\n", strerror(st.landlock_errno));
    printf("seccomp:       %s\n", st.seccomp ? "available" : "unavailable");
    printf("runner:        %s\n", mode == SBX_MODE_OFF
                                      ? "unconfined (sandbox off)"
                                      : "no file opens, no network, no exec, seccomp allow-list");
    printf("server:        %s\n",
           mode == SBX_MODE_OFF
               ? "unconfined (sandbox off)"
               : "capabilities dropped; Landlock: models dir rw, libraries/certificates ro, "
                 "bind own port only; seccomp deny-list: no socket, exec, fork, ptrace, "
                 "io_uring, bpf, keyctl, mount, namespaces");
    printf("monitor:       spawns runners (fexecve), connects to registries; loopback, private, "
           "link-local and metadata addresses only for CORRAL_ALLOW_HOSTS%s\n",
           mode == SBX_MODE_OFF ? " (not checked: sandbox off)" : "");
    printf("tcp port rules: %s\n", st.landlock_abi >= 4 ? "landlock" : "seccomp only");
    if (mode == SBX_MODE_ENFORCE && (st.landlock_abi < 1 || !st.seccomp))
        printf("\n%s\n", sbx_missing_paragraph(&st));
    return 0;
}

CMD_REGISTER(sandbox, "sandbox", cmd_sandbox, "Show the kernel sandbox status")
