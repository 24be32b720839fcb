/*
 * cfg_devices — the protocol-neutral view of the device sections: one
 * struct cfg_device per configured device, whatever its protocol, built
 * from the sections listed in CFG_DEVICE_SECTIONS (cfg_sections.h). The
 * poller, the policy checks and replay iterate this list, so adding a
 * protocol does not touch them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_sections.h"

struct device_section {
    const char *key; /* also the protocol name */
    const char *label;
    size_t array_off, count_off, elem_size;
    cfg_describe_fn *describe;
};

#define SECTION(key_, array, count, type, table, describe_, label_)                               \
    {.key = (key_),                                                                             \
     .label = (label_),                                                                         \
     .array_off = offsetof(struct floe_config, array),                                          \
     .count_off = offsetof(struct floe_config, count),                                          \
     .elem_size = sizeof(type),                                                                 \
     .describe = (describe_)},
static const struct device_section sections[] = {CFG_DEVICE_SECTIONS(SECTION)};
#undef SECTION

void cfg_devices_build(struct floe_config *cfg)
{
    size_t n = 0;
    for (size_t s = 0; s < ARRAY_LEN(sections); s++)
        n += *FIELD(cfg, sections[s].count_off, size_t);
    cfg->devices = calloc(n ? n : 1, sizeof *cfg->devices);
    if (!cfg->devices)
        abort();
    cfg->ndevices = 0;
    for (size_t s = 0; s < ARRAY_LEN(sections); s++) {
        const struct device_section *sec = &sections[s];
        const char *elems = *FIELD(cfg, sec->array_off, char *);
        size_t count = *FIELD(cfg, sec->count_off, size_t);
        for (size_t i = 0; i < count; i++) {
            struct cfg_device *d = &cfg->devices[cfg->ndevices++];
            sec->describe(elems + i * sec->elem_size, d);
            d->protocol = sec->key;
            d->index = i;
        }
    }
}

void cfg_devices_free(struct floe_config *cfg)
{
    for (size_t i = 0; cfg->devices && i < cfg->ndevices; i++)
        free(cfg->devices[i].metrics);
    free(cfg->devices);
    cfg->devices = NULL;
    cfg->ndevices = 0;
}

void cfg_devices_summary(const struct floe_config *cfg, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t s = 0; s < ARRAY_LEN(sections) && used < n; s++) {
        const char *sep = s == 0 ? "" : s + 1 == ARRAY_LEN(sections) ? " and " : ", ";
        int w = snprintf(buf + used, n - used, "%s%zu %s", sep,
                         *FIELD(cfg, sections[s].count_off, const size_t), sections[s].label);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < n)
        snprintf(buf + used, n - used, " devices");
}
