/*
 * fuzz_config — the floe.json loader on arbitrary bytes: cfg_load_buffer_warn
 * (comments, grammar, every table, cross checks, positions, warnings) and cfg_parse_policy_json
 * (the body of PUT /v1/policies/{name}). Beyond not crashing or leaking,
 * both must keep their contract: a result exactly when no error was
 * reported, and every error line naming the file it is about.
 *
 * Relative *_file paths resolve into a directory that does not exist, so
 * inputs cannot reach the files of the machine running the fuzzer except
 * through absolute paths, which the loader only reads if they are regular
 * files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_errors errs = {0}, warnings = {0};
    struct floe_config *cfg = cfg_load_buffer_warn("fuzz.json", (const char *)data, size,
                                                   "/nonexistent-floe-fuzz", &errs, &warnings);
    if ((cfg != NULL) == (errs.n != 0))
        abort();
    for (size_t i = 0; i < errs.n; i++)
        if (!errs.lines[i] || !errs.lines[i][0])
            abort();
    for (size_t i = 0; i < warnings.n; i++)
        if (!warnings.lines[i] || !warnings.lines[i][0])
            abort();
    cfg_free(cfg);
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warnings);

    struct cfg_policy policy;
    int rc = cfg_parse_policy_json((const char *)data, size, "body", &policy, &errs);
    if ((rc == 0) == (errs.n != 0))
        abort();
    for (size_t i = 0; i < errs.n; i++)
        if (strncmp(errs.lines[i], "body: ", 6) != 0)
            abort();
    if (rc == 0)
        cfg_policy_clear(&policy);
    cfg_errors_clear(&errs);
    return 0;
}
