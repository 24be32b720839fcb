/*
 * fuzz_kubeconfig — the kubeconfig reader (config/cfg_kubeconfig.c, libyaml)
 * on arbitrary bytes. Beyond not crashing or leaking: it succeeds exactly
 * with a server and exactly one of token and tokenFile, never both a CA
 * file and CA data, and fails with a reason and nothing half-filled.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config/cfg_kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_kubeconfig kc;
    char err[512] = "";
    int rc = cfg_kubeconfig_parse((const char *)data, size, "/nonexistent-floe-fuzz", &kc, err,
                                  sizeof err);
    if (rc == 0) {
        if (!kc.server || !kc.context || !kc.cluster || !kc.user)
            abort();
        if ((kc.token != NULL) == (kc.token_file != NULL))
            abort();
        if (kc.ca_file && kc.ca_pem)
            abort();
    } else if (!err[0] || kc.server || kc.token || kc.ca_pem) {
        abort();
    }
    cfg_kubeconfig_clear(&kc);
    return 0;
}
