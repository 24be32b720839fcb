/*
 * sim_api — see sim_api.h.
 */
#include "sim/sim_api.h"

#include "lib/util.h"

#include <cjson/cJSON.h>
#include <string.h>

const char *sim_api_error_code(enum sim_api_error e)
{
    switch (e) {
    case SIM_API_BAD_JSON:
        return "bad_json";
    case SIM_API_UNKNOWN_VALUE:
        return "unknown_value";
    case SIM_API_BAD_VALUE:
        return "bad_value";
    }
    return "bad_request";
}

static int refuse(enum sim_api_error *why, enum sim_api_error e)
{
    *why = e;
    return -1;
}

static const struct sim_api_ext *find_ext(const struct sim_api_ext *ext, size_t next,
                                          const char *name)
{
    for (size_t i = 0; i < next; i++)
        if (ext[i].owns(ext[i].arg, name))
            return &ext[i];
    return NULL;
}

int sim_api_set(struct sim_model *m, const struct sim_api_ext *ext, size_t next, const char *body,
                size_t len, enum sim_api_error *why, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        errf(err, errlen, "body is not valid JSON");
        return refuse(why, SIM_API_BAD_JSON);
    }
    int rc = -1;
    /* Applied to a copy first so a refusal halfway leaves nothing changed. */
    struct sim_model trial = *m;
    if (!cJSON_IsObject(root)) {
        errf(err, errlen, "body must be an object of value names, e.g. {\"it.base_kw\": 300}");
        refuse(why, SIM_API_BAD_JSON);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        struct sim_ref ref;
        char msg[200];
        const struct sim_api_ext *x = find_ext(ext, next, it->string);
        if (x) {
            if (x->check(x->arg, it->string, it, err, errlen) < 0) {
                refuse(why, SIM_API_BAD_VALUE);
                goto done;
            }
            continue;
        }
        if (sim_model_lookup(&trial, it->string, &ref, err, errlen) < 0) {
            refuse(why, SIM_API_UNKNOWN_VALUE);
            goto done;
        }
        double v;
        if (cJSON_IsBool(it) && sim_model_ref_type(ref) == SIM_BOOL) {
            v = cJSON_IsTrue(it) ? 1.0 : 0.0;
        } else if (cJSON_IsNumber(it)) {
            v = it->valuedouble;
        } else {
            errf(err, errlen, "%s: expected %s", it->string,
                 sim_model_ref_type(ref) == SIM_BOOL ? "true or false" : "a number");
            refuse(why, SIM_API_BAD_VALUE);
            goto done;
        }
        if (sim_model_write(&trial, ref, v, msg, sizeof msg) < 0) {
            errf(err, errlen, "%s: %s", it->string, msg);
            refuse(why, SIM_API_BAD_VALUE);
            goto done;
        }
    }
    *m = trial;
    for (const cJSON *it = root->child; it; it = it->next) {
        const struct sim_api_ext *x = find_ext(ext, next, it->string);
        if (x)
            x->apply(x->arg, it->string, it);
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

char *sim_api_state_json(const struct sim_model *m)
{
    char *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (!cJSON_AddStringToObject(root, "site", m->site) ||
        !cJSON_AddNumberToObject(root, "time_s", (double)(m->time_ms / 1000)))
        goto done;
    cJSON *values = cJSON_AddObjectToObject(root, "values");
    if (!values)
        goto done;
    for (size_t i = 0; i < sim_model_value_count(m); i++) {
        struct sim_value v;
        sim_model_value_at(m, i, &v);
        cJSON *item =
            v.type == SIM_BOOL ? cJSON_CreateBool(v.value != 0) : cJSON_CreateNumber(v.value);
        if (!item)
            goto done;
        cJSON_AddItemToObject(values, v.name, item);
    }
    out = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return out;
}
