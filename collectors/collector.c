/*
 * collector — see collector.h. The one list of the protocols floe can
 * poll; a new protocol adds its collector_ops here and its config section
 * in config/ (cfg_sections.h), and nothing above collectors/ changes.
 */
#include "collectors/collector.h"

#include <string.h>

#include "lib/util.h"

static const struct collector_ops *const collectors[] = {
    &mb_collector_ops,
    &snmp_collector_ops,
};

const struct collector_ops *collector_ops_for(const char *protocol)
{
    for (size_t i = 0; protocol && i < ARRAY_LEN(collectors); i++)
        if (strcmp(collectors[i]->protocol, protocol) == 0)
            return collectors[i];
    return NULL;
}
