/*
 * fuzz_name.c - libFuzzer target for model-name parsing: any accepted name must consist of
 * valid parts (never "." / ".." / '/' in a path component), and its full form must parse back
 * to an equal name.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[1100], full[700];
    struct store_name nm, again;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (store_name_parse(s, &nm, NULL) != 0)
        return 0;
    if (!store_name_part_valid(nm.host, 'h') || !store_name_part_valid(nm.ns, 'n') ||
        !store_name_part_valid(nm.model, 'm') || !store_name_part_valid(nm.tag, 't'))
        __builtin_trap();
    if (strchr(nm.ns, '/') || strchr(nm.model, '/') || strchr(nm.tag, '/') ||
        strchr(nm.host, '/') || strcmp(nm.model, "..") == 0 || nm.host[0] == '.')
        __builtin_trap();
    store_name_full(&nm, full, sizeof(full));
    if (store_name_parse(full, &again, NULL) != 0 || !store_name_eq(&nm, &again))
        __builtin_trap();
    return 0;
}
