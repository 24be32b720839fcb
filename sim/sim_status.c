/*
 * sim_status — see sim_status.h.
 */
#include "sim/sim_status.h"

#include <cjson/cJSON.h>

static bool add_opt(cJSON *o, const char *key, const char *value)
{
    return !value || cJSON_AddStringToObject(o, key, value);
}

static bool add_causes(cJSON *details, const struct sim_status *st)
{
    if (!st->ncauses)
        return true;
    cJSON *arr = cJSON_AddArrayToObject(details, "causes");
    if (!arr)
        return false;
    for (size_t i = 0; i < st->ncauses; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c)
            return false;
        cJSON_AddItemToArray(arr, c);
        if (!add_opt(c, "reason", st->causes[i].reason) ||
            !add_opt(c, "message", st->causes[i].message) ||
            !add_opt(c, "field", st->causes[i].field))
            return false;
    }
    return true;
}

char *sim_status_json(const struct sim_status *st)
{
    char *out = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "kind", "Status") ||
        !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
        !cJSON_AddObjectToObject(o, "metadata") ||
        !cJSON_AddStringToObject(o, "status", "Failure") ||
        !cJSON_AddStringToObject(o, "message", st->message) ||
        !cJSON_AddStringToObject(o, "reason", st->reason))
        goto done;
    if (st->details) {
        cJSON *d = cJSON_AddObjectToObject(o, "details");
        if (!d || !add_opt(d, "name", st->name) || !add_opt(d, "group", st->group) ||
            !add_opt(d, "kind", st->kind) || !add_causes(d, st))
            goto done;
    }
    if (cJSON_AddNumberToObject(o, "code", st->code))
        out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return out;
}

int sim_status_reply(char **body, const struct sim_status *st)
{
    *body = sim_status_json(st);
    return st->code;
}
