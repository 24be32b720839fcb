/*
 * cfg_snmp — the "snmp" section (SPEC 2.2): the tables of a device and of
 * a point, and the rules that tie their keys together: oid or walk, walk
 * metric templates, and what each SNMP version and v3 level needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_sections.h"
#include "config/cfg_walk.h"

/* Enum fields are written through an int pointer by the walker. */
_Static_assert(sizeof(enum snmp_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_priv) == sizeof(int), "enum size");

static const struct cfg_enum snmp_versions[] = {
    {"1", SNMP_V1},
    {"2c", SNMP_V2C},
    {"3", SNMP_V3},
    {NULL, 0},
};
static const struct cfg_enum snmp_levels[] = {
    {"noAuthNoPriv", SNMP_NOAUTH_NOPRIV},
    {"authNoPriv", SNMP_AUTH_NOPRIV},
    {"authPriv", SNMP_AUTH_PRIV},
    {NULL, 0},
};
static const struct cfg_enum snmp_auths[] = {
    {"MD5", SNMP_AUTH_MD5},
    {"SHA", SNMP_AUTH_SHA},
    {"SHA-256", SNMP_AUTH_SHA256},
    {"SHA-512", SNMP_AUTH_SHA512},
    {NULL, 0},
};
static const struct cfg_enum snmp_privs[] = {
    {"DES", SNMP_PRIV_DES},
    {"AES", SNMP_PRIV_AES},
    {"AES-256", SNMP_PRIV_AES256},
    {NULL, 0},
};

static int check_oid(const char *s, char *msg, size_t n)
{
    const char *p = s;
    int parts = 0;
    for (;;) {
        unsigned long long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (unsigned long long)(*p++ - '0');
            if (++digits > 10)
                break;
        }
        if (digits == 0 || digits > 10 || v > 4294967295ULL)
            goto bad;
        parts++;
        if (*p == '\0')
            break;
        if (*p++ != '.')
            goto bad;
    }
    if (parts >= 2 && parts <= 128)
        return 0;
bad:
    return errf(msg, n,
                "must be a numeric OID: numbers joined by dots, e.g. 1.3.6.1.2.1.33.1.2.4.0");
}

/* ---- check hooks: rules across the keys of one object ----------------- */

static void snmp_point_check(struct cfg_obj *o)
{
    struct cfg_snmp_point *p = o->base;
    bool oid = cfg_present(o, "oid"), walk = cfg_present(o, "walk");
    if (oid && walk)
        cfg_obj_error(o, "walk", "give either \"oid\" or \"walk\", not both");
    else if (!oid && !walk)
        cfg_obj_error(o, NULL, "needs \"oid\" (one value) or \"walk\" (a table subtree)");
    if (!cfg_given(o, "metric"))
        return;
    char msg[256];
    if (walk && !oid) {
        if (cfg_metric_template_check(p->metric, msg, sizeof msg))
            cfg_obj_error(o, "metric", "%s", msg);
    } else if (cfg_metric_is_template(p->metric)) {
        cfg_obj_error(o, "metric", "{index} is only for walk points");
    } else if (cfg_check_metric(p->metric, msg, sizeof msg)) {
        cfg_obj_error(o, "metric", "%s", msg);
    }
}

static void snmp_device_check(struct cfg_obj *o)
{
    static const char *const v3_only[] = {"user",          "level",         "auth_protocol",
                                          "auth_password", "priv_protocol", "priv_password",
                                          "context"};
    struct cfg_snmp_device *d = o->base;
    if (!cfg_settled(o, "version"))
        return;
    if (d->version != SNMP_V3) {
        for (size_t i = 0; i < ARRAY_LEN(v3_only); i++)
            if (cfg_present(o, v3_only[i]))
                cfg_obj_error(o, v3_only[i], "only for version 3");
        return;
    }
    if (cfg_present(o, "community"))
        cfg_obj_error(o, "community",
                      "only for versions 1 and 2c (version 3 uses user and passwords)");
    else {
        cfg_secret_free(d->community); /* the table's default is for v1/v2c */
        d->community = NULL;
    }
    if (!cfg_present(o, "user"))
        cfg_obj_error(o, "user", "missing required key (SNMP version 3 needs a user)");

    bool auth = cfg_present(o, "auth_password"), priv = cfg_present(o, "priv_password");
    /* Without an explicit level, the passwords given say what is meant. */
    if (!cfg_present(o, "level"))
        d->level = priv ? SNMP_AUTH_PRIV : auth ? SNMP_AUTH_NOPRIV : SNMP_NOAUTH_NOPRIV;
    else if (!cfg_given(o, "level"))
        return;
    const char *level = cfg_enum_name(snmp_levels, (int)d->level);
    if (d->level == SNMP_NOAUTH_NOPRIV) {
        static const char *const unused[] = {"auth_protocol", "auth_password", "priv_protocol",
                                             "priv_password"};
        for (size_t i = 0; i < ARRAY_LEN(unused); i++)
            if (cfg_present(o, unused[i]))
                cfg_obj_error(o, unused[i], "not used with level noAuthNoPriv");
        return;
    }
    if (!auth)
        cfg_obj_error(o, "auth_password",
                      "missing required key (level %s needs auth_password or auth_password_file)",
                      level);
    if (!cfg_present(o, "auth_protocol"))
        d->auth_protocol = SNMP_AUTH_SHA;
    if (d->level == SNMP_AUTH_NOPRIV) {
        if (cfg_present(o, "priv_protocol"))
            cfg_obj_error(o, "priv_protocol", "not used with level authNoPriv");
        if (priv)
            cfg_obj_error(o, "priv_password", "not used with level authNoPriv");
    } else {
        if (!priv)
            cfg_obj_error(
                o, "priv_password",
                "missing required key (level authPriv needs priv_password or priv_password_file)");
        if (!cfg_present(o, "priv_protocol"))
            d->priv_protocol = SNMP_PRIV_AES;
    }
    /* USM derives keys from the password and refuses shorter ones. */
    if (cfg_given(o, "auth_password") && d->auth_password && strlen(d->auth_password) < 8)
        cfg_obj_error(o, "auth_password", "must be at least 8 characters (SNMPv3 USM)");
    if (cfg_given(o, "priv_password") && d->level == SNMP_AUTH_PRIV && d->priv_password &&
        strlen(d->priv_password) < 8)
        cfg_obj_error(o, "priv_password", "must be at least 8 characters (SNMPv3 USM)");
}

/* ---- the tables -------------------------------------------------------- */

// clang-format off
#define T struct cfg_snmp_point
static const struct cfg_key snmp_point_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ), /* checked with oid/walk in snmp_point_check */
    KEY("oid", K_STR, oid, .check = check_oid),
    KEY("walk", K_STR, walk, .check = check_oid),
    KEY("scale", K_NUM, scale, .def = "1"),
    KEY("offset", K_NUM, offset, .def = "0"),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
static const struct cfg_table snmp_point_table = TABLE(snmp_point_keys, snmp_point_check, .label = "metric");

#define T struct cfg_snmp_device
static const struct cfg_key snmp_device_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
    KEY("host", K_STR, host, .flags = REQ, .check = cfg_check_host),
    KEY("port", K_INT, port, .def = "161", .min = 1, .max = 65535),
    KEY("version", K_ENUM, version, .def = "2c", .names = snmp_versions),
    KEY("community", K_SECRET, community, .def = "public"), /* v1/v2c only: snmp_device_check */
    KEY("user", K_STR, user),
    KEY("level", K_ENUM, level, .names = snmp_levels), /* default from the passwords given */
    KEY("auth_protocol", K_ENUM, auth_protocol, .names = snmp_auths), /* default SHA */
    KEY("auth_password", K_SECRET, auth_password),
    KEY("priv_protocol", K_ENUM, priv_protocol, .names = snmp_privs), /* default AES */
    KEY("priv_password", K_SECRET, priv_password),
    KEY("context", K_STR, context, .flags = EMPTY_OK),
    KEY("interval", K_DUR, interval_ms, .def = "10s", .min = 1),
    KEY("timeout", K_DUR, timeout_ms, .def = "1s", .min = 1),
    KEY("retries", K_INT, retries, .def = "1", .min = 0, .max = 10),
    KEY("walk_growth_check", K_DUR, walk_growth_check_ms, .def = "60s", .min = 0),
    ARRAY("points", points, struct cfg_snmp_point, npoints, snmp_point_table, .flags = REQ),
};
#undef T
const struct cfg_table cfg_snmp_device_table = TABLE(snmp_device_keys, snmp_device_check);
// clang-format on

void cfg_snmp_describe(const void *device, struct cfg_device *out)
{
    const struct cfg_snmp_device *d = device;
    cfg_device_begin(out, d->name, d->interval_ms, d->timeout_ms, d, d->npoints);
    for (size_t i = 0; i < d->npoints; i++)
        out->metrics[i] = (struct cfg_device_metric){
            .name = d->points[i].metric, .unit = d->points[i].unit, .is_template = d->points[i].walk != NULL};
}
