/*
 * test_config — the floe.json loader: every class of error with its exact
 * message and path, defaults, secrets, comments, policies_dir and the
 * policy API entry point.
 *
 * Configs are written with single quotes for readability; load() turns
 * them into double quotes. "@DIR@" stands for the per-test fixture
 * directory, which holds secret files and a tiny zone database (TZDIR),
 * so the tests do not depend on the machine's /etc or tzdata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/util.h"

struct error_case {
    const char *name;
    const char *json;    /* single quotes stand for double quotes */
    const char *want[4]; /* every expected error line, in order */
};

struct fixture {
    char dir[64];
    const struct error_case *c;
};

/* ---- fixture --------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void make_dir(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
}

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->c = *state;
    int n = snprintf(f->dir, sizeof f->dir, "/tmp/floe-test-config-");
    memset(f->dir + n, 'X', 6); /* mkdtemp's template: six X at the end */
    f->dir[n + 6] = '\0';
    assert_non_null(mkdtemp(f->dir));
    write_file(f->dir, "noc.token", "  s3cret-noc\n");
    write_file(f->dir, "facility.token", "facility-secret");
    write_file(f->dir, "empty.token", " \n");
    write_file(f->dir, "ups.auth", "authpass1\n");
    write_file(f->dir, "ups.priv", "privpass1\n");
    write_file(f->dir, "tls.crt", "certificate\n");
    write_file(f->dir, "tls.key", "key\n");
    make_dir(f->dir, "zoneinfo");
    make_dir(f->dir, "zoneinfo/Europe");
    write_file(f->dir, "zoneinfo/UTC", "");
    write_file(f->dir, "zoneinfo/Europe/Stockholm", "");
    char tzdir[128];
    snprintf(tzdir, sizeof tzdir, "%s/zoneinfo", f->dir);
    setenv("TZDIR", tzdir, 1);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    unsetenv("TZDIR");
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/* Copies s replacing "@DIR@" with dir and, if quotes, ' with ". */
static char *expand(const char *s, const char *dir, int quotes)
{
    size_t cap = strlen(s) * 2 + 256, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = s; *p;) {
        if (strncmp(p, "@DIR@", 5) == 0) {
            size_t dl = strlen(dir);
            if (n + dl + 1 >= cap) {
                cap = cap * 2 + dl;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            memcpy(out + n, dir, dl);
            n += dl;
            p += 5;
            continue;
        }
        if (n + 2 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        out[n++] = quotes && *p == '\'' ? '"' : *p;
        p++;
    }
    out[n] = '\0';
    return out;
}

static struct floe_config *load(const struct fixture *f, const char *q, struct cfg_errors *errs)
{
    char *text = expand(q, f->dir, 1);
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), f->dir, errs);
    free(text);
    return cfg;
}

static void print_errors(const struct cfg_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_message("  got: %s\n", errs->lines[i]);
}

static struct floe_config *load_ok(const struct fixture *f, const char *q)
{
    struct cfg_errors errs = {0};
    struct floe_config *cfg = load(f, q, &errs);
    print_errors(&errs);
    assert_int_equal(errs.n, 0);
    assert_non_null(cfg);
    cfg_errors_clear(&errs);
    return cfg;
}

/* ---- one test per class of error ---------------------------------------------- */

/* The cases read best as a table: keep the formatter out of it. */
// clang-format off
#define SITE "'site': {'name': 'lulea-1'}"
#define MB(dev_extra, points) "'modbus': [{'name': 'chiller1', 'host': '10.0.0.5'" dev_extra ", 'points': [" points "]}]"
#define PT(table, address, extra) \
    "{'metric': 'cooling.chiller1.capacity_kw', 'table': '" table "', 'address': " address extra "}"
#define REG(extra) PT("holding", "100", extra)
#define SNMP(dev_extra, points) "'snmp': [{'name': 'ups-a', 'host': '10.0.0.9'" dev_extra ", 'points': [" points "]}]"
#define OIDPT "{'metric': 'power.ups_a.battery_pct', 'oid': '1.3.6.1.2.1.33.1.2.4.0'}"
#define V3 ", 'version': '3', 'user': 'floe'"
#define POLICY(extra) "{'name': 'p1', 'when': 'it.load_kw > 100'" extra "}"
#define TOKENS(list) "'http': {'tokens': [" list "]}"

static const struct error_case error_cases[] = {
    { "unknown_key_names_its_path_and_suggests_the_key",
      "{" SITE ", " MB("", REG(", 'ordr': 'ABCD'")) "}",
      { "floe.json:1:173: modbus[0].points[0].ordr (metric cooling.chiller1.capacity_kw): unknown key (did you mean 'order'?)" } },
    { "unknown_top_level_key_is_an_error",
      "{" SITE ", 'colour': 'blue'}",
      { "floe.json:1:31: colour: unknown key" } },
    { "key_given_twice_is_an_error",
      "{" SITE ", 'site': {'name': 'other'}}",
      { "floe.json:1:31: site: key given twice" } },
    { "string_for_integer_is_wrong_type",
      "{" SITE ", " MB(", 'port': '502'", REG("")) "}",
      { "floe.json:1:91: modbus[0].port: must be an integer, not a string" } },
    { "fractional_address_is_rejected",
      "{" SITE ", " MB("", PT("holding", "1.5", "")) "}",
      { "floe.json:1:168: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): must be an integer, not 1.5" } },
    { "object_where_array_expected_is_wrong_type",
      "{" SITE ", 'modbus': {}}",
      { "floe.json:1:41: modbus: must be an array, not an object" } },
    { "top_level_array_is_rejected",
      "[]",
      { "floe.json:1:1: must be an object, not an array" } },
    { "missing_required_key_names_the_key",
      "{" SITE ", " MB("", "{'metric': 'cooling.chiller1.capacity_kw', 'table': 'holding'}") "}",
      { "floe.json:1:94: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): missing required key" } },
    { "missing_site_is_an_error",
      "{}",
      { "floe.json:1:1: site: missing required key" } },
    { "duplicate_metric_across_modbus_and_snmp",
      "{" SITE ", " MB("", REG("")) ", "
      SNMP("", "{'metric': 'cooling.chiller1.capacity_kw', 'oid': '1.3.6.1.2.1.1.3.0'}") "}",
      { "floe.json:1:246: snmp[0].points[0].metric: duplicate metric 'cooling.chiller1.capacity_kw' "
        "(first at modbus[0].points[0].metric)" } },
    { "duplicate_metric_between_point_and_derive",
      "{" SITE ", " MB("", REG("")) ", 'derive': [{'metric': 'cooling.chiller1.capacity_kw', 'expr': '1'}]}",
      { "floe.json:1:199: derive[0].metric: duplicate metric 'cooling.chiller1.capacity_kw' "
        "(first at modbus[0].points[0].metric)" } },
    { "invalid_metric_name_is_rejected",
      "{" SITE ", " MB("", "{'metric': 'Cooling.kw', 'table': 'coil', 'address': 1}") "}",
      { "floe.json:1:105: modbus[0].points[0].metric: 'Cooling.kw' is not a metric name: use [a-z0-9_]+ "
        "segments joined by '.' (e.g. cooling.chiller1.capacity_kw)" } },
    { "duplicate_device_name_across_protocols",
      "{" SITE ", " MB("", REG("")) ", 'snmp': [{'name': 'chiller1', 'host': 'h', 'points': [" OIDPT "]}]}",
      { "floe.json:1:195: snmp[0].name: duplicate device name 'chiller1' (first at modbus[0].name)" } },
    { "device_named_derive_is_refused",
      "{" SITE ", 'snmp': [{'name': 'derive', 'host': 'h', 'points': [" OIDPT "]}]}",
      { "floe.json:1:49: snmp[0].name: 'derive' is reserved for derived metrics: name the device "
        "after what it is (e.g. chiller1)" } },
    { "address_above_65535_is_out_of_range",
      "{" SITE ", " MB("", PT("input", "65536", "")) "}",
      { "floe.json:1:166: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): must be between 0 and 65535" } },
    { "negative_address_is_out_of_range",
      "{" SITE ", " MB("", PT("input", "-1", "")) "}",
      { "floe.json:1:166: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): must be between 0 and 65535" } },
    { "float64_at_65533_runs_past_the_last_register",
      "{" SITE ", " MB("", PT("holding", "65533", ", 'type': 'float64'")) "}",
      { "floe.json:1:168: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): a float64 at 65533 spans 4 registers and runs past 65535" } },
    { "bit_above_15_is_out_of_range",
      "{" SITE ", " MB("", REG(", 'bit': 16")) "}",
      { "floe.json:1:180: modbus[0].points[0].bit (metric cooling.chiller1.capacity_kw): must be between 0 and 15" } },
    { "bit_on_a_coil_is_rejected",
      "{" SITE ", " MB("", PT("coil", "3", ", 'bit': 1")) "}",
      { "floe.json:1:175: modbus[0].points[0].bit (metric cooling.chiller1.capacity_kw): only holding and input registers have bits" } },
    { "non_bool_type_on_a_coil_is_rejected",
      "{" SITE ", " MB("", PT("discrete", "3", ", 'type': 'uint16'")) "}",
      { "floe.json:1:180: modbus[0].points[0].type (metric cooling.chiller1.capacity_kw): coils and discrete inputs are bool" } },
    { "bool_on_a_register_without_bit_is_rejected",
      "{" SITE ", " MB("", REG(", 'type': 'bool'")) "}",
      { "floe.json:1:181: modbus[0].points[0].type (metric cooling.chiller1.capacity_kw): bool on a holding register needs \"bit\" (0-15)" } },
    { "bad_enum_value_lists_the_choices",
      "{" SITE ", " MB("", REG(", 'order': 'ADCB'")) "}",
      { "floe.json:1:182: modbus[0].points[0].order (metric cooling.chiller1.capacity_kw): must be one of ABCD, DCBA, BADC, CDAB" } },
    { "bad_duration_unit_is_rejected",
      "{" SITE ", " MB(", 'interval': '5x'", REG("")) "}",
      { "floe.json:1:95: modbus[0].interval: '5x' has no known unit (use ms, s, m, h or d)" } },
    { "zero_interval_is_rejected",
      "{" SITE ", " MB(", 'interval': 0", REG("")) "}",
      { "floe.json:1:95: modbus[0].interval: must be greater than 0" } },
    { "zero_interval_string_is_rejected",
      "{" SITE ", " SNMP(", 'interval': '0s'", OIDPT) "}",
      { "floe.json:1:90: snmp[0].interval: must be greater than 0" } },
    { "negative_duration_number_is_rejected",
      "{" SITE ", " MB(", 'timeout': -1", REG("")) "}",
      { "floe.json:1:94: modbus[0].timeout: must not be negative" } },
    { "boolean_duration_is_wrong_type",
      "{" SITE ", 'store': {'retention': true}}",
      { "floe.json:1:54: store.retention: must be a duration (a string such as \"5s\" or a number of seconds), "
        "not a boolean" } },
    { "raw_retention_longer_than_the_minute_tier_is_rejected",
      "{" SITE ", 'store': {'raw_retention': '40d'}}",
      { "floe.json:1:58: store.raw_retention: longer than store.minute_retention: raw samples are "
        "kept at most as long as the minute rollups" } },
    { "minute_retention_longer_than_retention_is_rejected",
      "{" SITE ", 'store': {'retention': '7d', 'minute_retention': '30d'}}",
      { "floe.json:1:80: store.minute_retention: longer than store.retention: minute rollups are "
        "kept at most as long as anything" } },
    { "missing_secret_file_is_reported_with_its_path",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token_file': 'missing.token'}") "}",
      { "floe.json:1:97: http.tokens[0].token_file: @DIR@/missing.token: No such file or directory" } },
    { "empty_secret_file_is_rejected",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token_file': 'empty.token'}") "}",
      { "floe.json:1:97: http.tokens[0].token_file: @DIR@/empty.token: file is empty" } },
    { "secret_file_must_be_a_regular_file",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token_file': 'zoneinfo'}") "}",
      { "floe.json:1:97: http.tokens[0].token_file: @DIR@/zoneinfo: not a regular file" } },
    { "inline_secret_and_secret_file_together_are_rejected",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token': 'x', 'token_file': 'noc.token'}") "}",
      { "floe.json:1:111: http.tokens[0].token_file: give either token or token_file, not both" } },
    { "missing_secret_names_both_spellings",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read'}") "}",
      { "floe.json:1:51: http.tokens[0].token: missing required key (give token or token_file)" } },
    { "unit_id_above_255_is_out_of_range",
      "{" SITE ", " MB(", 'unit_id': 300", REG("")) "}",
      { "floe.json:1:94: modbus[0].unit_id: must be between 0 and 255" } },
    { "reserved_unit_id_on_tcp_is_rejected",
      "{" SITE ", " MB(", 'unit_id': 250", REG("")) "}",
      { "floe.json:1:94: modbus[0].unit_id: must be between 0 and 247, or 255" } },
    { "broadcast_unit_id_on_rtu_is_rejected",
      "{" SITE ", 'modbus': [{'name': 'meter', 'transport': 'rtu', 'device': '/dev/ttyUSB0', 'unit_id': 0, "
      "'points': [" REG("") "]}]}",
      { "floe.json:1:117: modbus[0].unit_id: must be between 1 and 247 on a serial line" } },
    { "max_registers_above_125_is_rejected",
      "{" SITE ", " MB(", 'max_registers': 126", REG("")) "}",
      { "floe.json:1:100: modbus[0].max_registers: must be between 1 and 125" } },
    { "max_registers_zero_is_rejected",
      "{" SITE ", " MB(", 'max_registers': 0", REG("")) "}",
      { "floe.json:1:100: modbus[0].max_registers: must be between 1 and 125" } },
    { "value_wider_than_max_registers_is_rejected",
      "{" SITE ", " MB(", 'max_registers': 2", REG(", 'type': 'float64'")) "}",
      { "floe.json:1:201: modbus[0].points[0].type (metric cooling.chiller1.capacity_kw): a float64 needs 4 registers in one request but max_registers is 2" } },
    { "rtu_without_device_is_rejected",
      "{" SITE ", 'modbus': [{'name': 'meter', 'transport': 'rtu', 'points': []}]}",
      { "floe.json:1:42: modbus[0].device: missing required key (transport \"rtu\" needs a serial device)" } },
    { "tcp_key_on_rtu_device_is_rejected",
      "{" SITE ", 'modbus': [{'name': 'meter', 'transport': 'rtu', 'device': '/dev/ttyS0', 'port': 502, "
      "'points': []}]}",
      { "floe.json:1:112: modbus[0].port: only for transport \"tcp\"" } },
    { "listen_without_port_is_invalid",
      "{" SITE ", 'http': {'listen': '127.0.0.1'}}",
      { "floe.json:1:50: http.listen: must be IP:PORT, e.g. \"127.0.0.1:8470\", \"0.0.0.0:8470\" or \"[::1]:8470\"" } },
    { "listen_with_host_name_is_invalid",
      "{" SITE ", 'http': {'listen': 'example.org:8470'}}",
      { "floe.json:1:50: http.listen: must be IP:PORT, e.g. \"127.0.0.1:8470\", \"0.0.0.0:8470\" or \"[::1]:8470\"" } },
    { "listen_port_out_of_range_is_invalid",
      "{" SITE ", 'http': {'listen': '[::1]:65536'}}",
      { "floe.json:1:50: http.listen: must be IP:PORT, e.g. \"127.0.0.1:8470\", \"0.0.0.0:8470\" or \"[::1]:8470\"" } },
    { "tls_with_only_cert_file_is_rejected",
      "{" SITE ", 'http': {'tls': {'cert_file': 'tls.crt'}}}",
      { "floe.json:1:47: http.tls.key_file: missing required key" } },
    { "tls_with_unreadable_cert_is_rejected",
      "{" SITE ", 'http': {'tls': {'cert_file': 'missing.crt', 'key_file': 'tls.key'}}}",
      { "floe.json:1:61: http.tls.cert_file: @DIR@/missing.crt: No such file or directory" } },
    { "bad_role_is_rejected",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'root', 'token': 'x'}") "}",
      { "floe.json:1:75: http.tokens[0].role: must be one of read, operator, admin, peer" } },
    { "duplicate_token_names_are_rejected",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token': 'a'}, {'name': 'noc', 'role': 'read', 'token': 'b'}") "}",
      { "floe.json:1:107: http.tokens[1].name: duplicate token name 'noc' (first at http.tokens[0].name)" } },
    { "same_secret_for_two_tokens_is_rejected_without_showing_it",
      "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token': 's3cret-noc'}, "
                         "{'name': 'ops', 'role': 'operator', 'token_file': 'noc.token'}") "}",
      { "floe.json:1:107: http.tokens[1]: same token as http.tokens[0] (each client needs its own)" } },
    { "snmp_v3_without_user_is_rejected",
      "{" SITE ", " SNMP(", 'version': '3'", OIDPT) "}",
      { "floe.json:1:40: snmp[0].user: missing required key (SNMP version 3 needs a user)" } },
    { "snmp_authpriv_without_priv_password_is_rejected",
      "{" SITE ", " SNMP(V3 ", 'level': 'authPriv', 'auth_password': 'authpass1'", OIDPT) "}",
      { "floe.json:1:40: snmp[0].priv_password: missing required key (level authPriv needs priv_password or "
        "priv_password_file)" } },
    { "snmp_v3_short_password_is_rejected",
      "{" SITE ", " SNMP(V3 ", 'auth_password': 'short'", OIDPT) "}",
      { "floe.json:1:127: snmp[0].auth_password: must be at least 8 characters (SNMPv3 USM)" } },
    { "snmp_community_on_v3_is_rejected",
      "{" SITE ", " SNMP(", 'version': 3, 'user': 'floe', 'community': 'public'", OIDPT) "}",
      { "floe.json:1:121: snmp[0].community: only for versions 1 and 2c (version 3 uses user and passwords)" } },
    { "snmp_v3_key_on_v2c_is_rejected",
      "{" SITE ", " SNMP(", 'user': 'floe'", OIDPT) "}",
      { "floe.json:1:86: snmp[0].user: only for version 3" } },
    { "snmp_version_2_is_not_2c",
      "{" SITE ", " SNMP(", 'version': 2", OIDPT) "}",
      { "floe.json:1:89: snmp[0].version: must be one of 1, 2c, 3" } },
    { "oid_with_letters_is_invalid",
      "{" SITE ", " SNMP("", "{'metric': 'power.x', 'oid': '1.3.6.a'}") "}",
      { "floe.json:1:118: snmp[0].points[0].oid (metric power.x): must be a numeric OID: numbers joined by dots, "
        "e.g. 1.3.6.1.2.1.33.1.2.4.0" } },
    { "oid_with_leading_dot_is_invalid",
      "{" SITE ", " SNMP("", "{'metric': 'power.x', 'walk': '.1.3.6.1', 'unit': ''}") "}",
      { "floe.json:1:119: snmp[0].points[0].walk (metric power.x): must be a numeric OID: numbers joined by dots, "
        "e.g. 1.3.6.1.2.1.33.1.2.4.0",
        "floe.json:1:100: snmp[0].points[0].metric: a walk metric must contain {index} (replaced by each row's OID suffix)" } },
    { "walk_and_oid_together_are_rejected",
      "{" SITE ", " SNMP("", "{'metric': 'power.x', 'oid': '1.3.6.1.2.1.1.3.0', 'walk': '1.3.6.1.2.1.2'}") "}",
      { "floe.json:1:147: snmp[0].points[0].walk (metric power.x): give either \"oid\" or \"walk\", not both" } },
    { "point_without_walk_or_oid_is_rejected",
      "{" SITE ", " SNMP("", "{'metric': 'power.x'}") "}",
      { "floe.json:1:89: snmp[0].points[0] (metric power.x): needs \"oid\" (one value) or \"walk\" (a table subtree)" } },
    { "index_placeholder_outside_walk_is_rejected",
      "{" SITE ", " SNMP("", "{'metric': 'power.outlet{index}_w', 'oid': '1.3.6.1.2.1.1.3.0'}") "}",
      { "floe.json:1:100: snmp[0].points[0].metric: {index} is only for walk points" } },
    { "index_placeholder_in_modbus_metric_is_rejected",
      "{" SITE ", " MB("", "{'metric': 'power.outlet{index}_w', 'table': 'coil', 'address': 1}") "}",
      { "floe.json:1:105: modbus[0].points[0].metric: 'power.outlet{index}_w' is not a metric name: use [a-z0-9_]+ "
        "segments joined by '.' (e.g. cooling.chiller1.capacity_kw)" } },
    { "schedule_window_needs_two_digit_hours",
      "{" SITE ", 'policies': [" POLICY(", 'schedule': {'window': '1:00-05:00'}") "]}",
      { "floe.json:1:110: policies[0].schedule.window: must be \"HH:MM-HH:MM\" in 24-hour time, e.g. \"01:00-05:00\"" } },
    { "schedule_window_hour_25_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'schedule': {'window': '22:00-25:00'}") "]}",
      { "floe.json:1:110: policies[0].schedule.window: must be \"HH:MM-HH:MM\" in 24-hour time, e.g. \"01:00-05:00\"" } },
    { "schedule_without_window_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'schedule': {'days': ['mon']}") "]}",
      { "floe.json:1:99: policies[0].schedule.window: missing required key" } },
    { "schedule_day_names_are_checked",
      "{" SITE ", 'policies': [" POLICY(", 'schedule': {'window': '01:00-05:00', 'days': ['mon', 'monday']}") "]}",
      { "floe.json:1:141: policies[0].schedule.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun" } },
    { "duplicate_policy_names_are_rejected",
      "{" SITE ", 'policies': [" POLICY("") ", " POLICY("") "]}",
      { "floe.json:1:97: policies[1].name: duplicate policy name 'p1' (first at policies[0].name)" } },
    { "empty_policy_expression_is_rejected",
      "{" SITE ", 'policies': [{'name': 'p1', 'when': ''}]}",
      { "floe.json:1:67: policies[0].when: must not be empty" } },
    { "policy_expression_must_be_a_string",
      "{" SITE ", 'policies': [{'name': 'p1', 'when': 5}]}",
      { "floe.json:1:67: policies[0].when: must be a string, not a number" } },
    { "bad_policy_mode_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'mode': 'manual'") "]}",
      { "floe.json:1:95: policies[0].mode: must be one of auto, approve, observe" } },
    { "zero_cooldown_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'cooldown': 0") "]}",
      { "floe.json:1:99: policies[0].cooldown: must be greater than 0" } },
    { "shed_action_without_kw_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'action': {'type': 'shed'}") "]}",
      { "floe.json:1:97: policies[0].action.kw: missing required key (a shed action needs the kW to move)" } },
    { "rebalance_key_on_shed_action_is_rejected",
      "{" SITE ", 'policies': [" POLICY(", 'action': {'type': 'shed', 'kw': '10', 'max_migrations': 3}") "]}",
      { "floe.json:1:144: policies[0].action.max_migrations: only for type \"rebalance\" (this action is \"shed\")" } },
    { "policy_name_with_slash_is_rejected",
      "{" SITE ", 'policies': [{'name': 'a/b', 'when': 'x > 1'}]}",
      { "floe.json:1:53: policies[0].name: must be at most 64 letters, digits, '_', '-' or '.'" } },
    { "given_policies_dir_must_exist",
      "{" SITE ", 'policies_dir': 'nope.d'}",
      { "floe.json:1:47: policies_dir: @DIR@/nope.d: No such file or directory" } },
    { "peer_named_like_this_site_is_rejected",
      "{" SITE ", 'peers': [{'name': 'lulea-1', 'url': 'http://127.0.0.1:8471', 'token': 't'}]}",
      { "floe.json:1:50: peers[0].name: 'lulea-1' is this site's own name" } },
    { "peer_url_must_be_http",
      "{" SITE ", 'peers': [{'name': 'falkenberg-1', 'url': 'ftp://x', 'token': 't'}]}",
      { "floe.json:1:73: peers[0].url: must be an http:// or https:// URL" } },
    { "peers_poll_under_a_second_is_rejected",
      "{" SITE ", 'peers_poll': '500ms'}",
      { "floe.json:1:45: peers_poll: must be at least 1s" } },
    { "kubernetes_source_needs_kubernetes_section",
      "{" SITE ", 'workloads': {'source': 'kubernetes'}}",
      { "floe.json:1:44: workloads.kubernetes: missing required key (source \"kubernetes\")" } },
    { "migrator_needs_the_kubernetes_api",
      "{" SITE ", 'workloads': {'source': 'static'}, 'migrator': {'max_parallel': 1}}",
      { "floe.json:1:78: migrator: driver \"velero\" moves workloads with Velero through this "
        "site's Kubernetes API: it needs workloads.source \"kubernetes\" (workloads.source is "
        "\"static\")" } },
    { "migrator_needs_a_workloads_source",
      "{" SITE ", 'migrator': {}}",
      { "floe.json:1:43: migrator: driver \"velero\" moves workloads with Velero through this "
        "site's Kubernetes API: it needs workloads.source \"kubernetes\" (workloads.source is "
        "not set)" } },
    { "powerdns_driver_needs_zone",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'api': 'http://127.0.0.1:8081', 'api_key': 'k'}}",
      { "floe.json:1:42: traffic.zone: missing required key (driver \"powerdns\")" } },
    { "powerdns_driver_needs_api_and_a_key",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'zone': 'apps.example.org.'}}",
      { "floe.json:1:42: traffic.api: missing required key (driver \"powerdns\")",
        "floe.json:1:42: traffic.api_key: missing required key (driver \"powerdns\" needs api_key or api_key_file)" } },
    { "powerdns_zone_without_trailing_dot_is_rejected",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'api': 'http://127.0.0.1:8081', 'api_key': 'k', 'zone': 'apps.example.org'}}",
      { "floe.json:1:121: traffic.zone: must be a canonical zone name ending in '.' (e.g. \"apps.example.org.\")" } },
    { "powerdns_zone_with_empty_label_or_odd_character_is_rejected",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'api': 'http://127.0.0.1:8081', 'api_key': 'k', 'zone': 'apps..example.org.'}}",
      { "floe.json:1:121: traffic.zone: must be dot-separated labels of 1 to 63 letters, digits, '-' or '_' (e.g. \"apps.example.org.\")" } },
    { "powerdns_server_id_must_be_a_name_for_the_url",
      "{" SITE ", 'traffic': {'driver': 'none', 'server_id': 'a/b'}}",
      { "floe.json:1:74: traffic.server_id: must be at most 64 letters, digits, '_', '-' or '.'" } },
    { "powerdns_zone_with_a_slash_is_rejected",
      "{" SITE ", 'traffic': {'driver': 'none', 'zone': 'a/b.example.org.'}}",
      { "floe.json:1:69: traffic.zone: must be dot-separated labels of 1 to 63 letters, digits, '-' or '_' (e.g. \"apps.example.org.\")" } },
    { "powerdns_api_key_file_must_not_be_empty",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'api': 'http://127.0.0.1:8081', 'api_key_file': 'empty.token', 'zone': 'apps.example.org.'}}",
      { "floe.json:1:113: traffic.api_key_file: @DIR@/empty.token: file is empty" } },
    { "powerdns_driver_takes_no_webhook_url",
      "{" SITE ", 'traffic': {'driver': 'powerdns', 'api': 'http://127.0.0.1:8081', 'api_key': 'k', 'zone': 'apps.example.org.', 'url': 'http://127.0.0.1:9000/'}}",
      { "floe.json:1:149: traffic.url: only for driver \"webhook\"" } },
    { "webhook_driver_needs_url",
      "{" SITE ", 'traffic': {'driver': 'webhook', 'ttl': 60}}",
      { "floe.json:1:42: traffic.url: missing required key (driver \"webhook\")" } },
    { "webhook_driver_takes_no_powerdns_keys",
      "{" SITE ", 'traffic': {'driver': 'webhook', 'url': 'http://127.0.0.1:9000/hook', 'api_key': 'k'}}",
      { "floe.json:1:112: traffic.api_key: only for driver \"powerdns\"" } },
    { "traffic_ttl_must_be_1_to_86400",
      "{" SITE ", 'traffic': {'driver': 'none', 'ttl': 0}}",
      { "floe.json:1:68: traffic.ttl: must be between 1 and 86400" } },
    { "traffic_ttl_over_a_day_is_rejected",
      "{" SITE ", 'traffic': {'driver': 'none', 'ttl': 86401}}",
      { "floe.json:1:68: traffic.ttl: must be between 1 and 86400" } },
    { "unknown_traffic_driver_is_rejected",
      "{" SITE ", 'traffic': {'driver': 'route53'}}",
      { "floe.json:1:53: traffic.driver: must be one of powerdns, webhook, none" } },
    { "unknown_time_zone_is_rejected",
      "{'site': {'name': 'lulea-1', 'timezone': 'Europe/Stokholm'}}",
      { "floe.json:1:42: site.timezone: unknown time zone 'Europe/Stokholm' (not in @DIR@/zoneinfo)" } },
    { "walk_growth_check_is_a_duration",
      "{" SITE ", " SNMP(", 'walk_growth_check': 'hourly'", OIDPT) "}",
      { "floe.json:1:99: snmp[0].walk_growth_check: 'hourly' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")" } },
    { "http_threads_must_be_at_least_one",
      "{" SITE ", 'http': {'threads': 0}}",
      { "floe.json:1:51: http.threads: must be between 1 and 64" } },
    { "negative_margin_is_rejected",
      "{" SITE ", 'capacity': {'margin_kw': -5}}",
      { "floe.json:1:57: capacity.margin_kw: must not be negative" } },
    { "all_errors_are_reported_in_document_order",
      "{'site': {'name': 'lulea-1', 'timezone': 7}, " MB(", 'port': 0", REG(", 'order': 'X'")) ", "
      "'migrator': {'max_parallel': 0}}",
      { "floe.json:1:42: site.timezone: must be a string, not a number",
        "floe.json:1:106: modbus[0].port: must be between 1 and 65535",
        "floe.json:1:208: modbus[0].points[0].order (metric cooling.chiller1.capacity_kw): must be one of ABCD, DCBA, BADC, CDAB",
        "floe.json:1:246: migrator.max_parallel: must be between 1 and 64" } },
    { "syntax_error_reports_line_and_column_of_the_original_text",
      "{\n  // a comment with 'quotes' and a /* in it\n  'site': {'name': 'x',}\n}",
      { "floe.json:3:23: trailing comma before '}'" } },
    { "unterminated_block_comment_is_reported_where_it_starts",
      "{" SITE " /* never closed\n}",
      { "floe.json:1:30: unterminated /* comment" } },
    { "duration_with_a_space_says_to_remove_it",
      "{" SITE ", " MB(", 'interval': '30 s'", REG("")) "}",
      { "floe.json:1:95: modbus[0].interval: '30 s': remove the space: '30s'" } },
    { "point_reading_half_of_a_float_is_rejected_naming_both",
      "{" SITE ", " MB("", REG(", 'type': 'float32'") ", "
                       "{'metric': 'cooling.chiller1.flow', 'table': 'holding', 'address': 101}") "}",
      { "floe.json:1:260: modbus[0].points[1].address (metric cooling.chiller1.flow): a uint16 at holding 101 "
        "overlaps points[0] (metric cooling.chiller1.capacity_kw), a float32 at holding 100-101" } },
    { "wider_point_over_a_narrower_one_is_rejected",
      "{" SITE ", " MB("", "{'metric': 'cooling.chiller1.flow', 'table': 'input', 'address': 101}, "
                       PT("input", "100", ", 'type': 'uint32'")) "}",
      { "floe.json:1:237: modbus[0].points[1].address (metric cooling.chiller1.capacity_kw): a uint32 at input "
        "100-101 overlaps points[0] (metric cooling.chiller1.flow), a uint16 at input 101" } },
    { "multi_register_points_overlapping_in_part_are_rejected",
      "{" SITE ", " MB("", REG(", 'type': 'float64'") ", "
                       "{'metric': 'cooling.chiller1.flow', 'table': 'holding', 'address': 102, 'type': 'float32'}") "}",
      { "floe.json:1:260: modbus[0].points[1].address (metric cooling.chiller1.flow): a float32 at holding 102-103 "
        "overlaps points[0] (metric cooling.chiller1.capacity_kw), a float64 at holding 100-103" } },
};
// clang-format on

static void run_error_case(void **state)
{
    const struct fixture *f = *state;
    const struct error_case *c = f->c;
    struct cfg_errors errs = {0};
    struct floe_config *cfg = load(f, c->json, &errs);
    size_t nwant = 0;
    while (nwant < sizeof c->want / sizeof c->want[0] && c->want[nwant])
        nwant++;
    print_errors(&errs);
    assert_int_equal(errs.n, nwant);
    if (nwant)
        assert_null(cfg);
    for (size_t i = 0; i < nwant; i++) {
        char *want = expand(c->want[i], f->dir, 0);
        assert_string_equal(errs.lines[i], want);
        free(want);
    }
    cfg_free(cfg);
    cfg_errors_clear(&errs);
}

/* ---- a complete config: every key reaches its field -------------------------- */

static const char full_config[] =
    "// a test site with every section\n"
    "{\n"
    "  /* block comment */\n"
    "  'site': {'name': 'lulea-1', 'timezone': 'Europe/Stockholm', 'ingress': '192.0.2.10'},\n"
    "  'store': {'path': '/tmp/floe.db', 'retention': '7d'},\n"
    "  'http': {'listen': '0.0.0.0:8470', 'tls': {'cert_file': 'tls.crt', 'key_file': "
    "'@DIR@/tls.key'},\n"
    "           'anonymous_read': true, 'threads': 8,\n"
    "           'tokens': [{'name': 'noc', 'role': 'read', 'token_file': 'noc.token'},\n"
    "                      {'name': 'falkenberg-1', 'role': 'peer', 'token': 'peer-secret'}]},\n"
    "  'modbus': [{'name': 'chiller1', 'host': '10.0.0.5', 'port': 1502, 'unit_id': 255, "
    "'interval': 2.5,\n"
    "              'timeout': '750ms', 'retries': 3, 'max_registers': 64, 'max_gap': 4,\n"
    "              'pause_after_connect': '200ms', 'pause_between_requests': '20ms', "
    "'close_after_poll': true,\n"
    "              'one_request_per_point': true, 'busy_retries': 2, 'busy_retry_wait': '1s',\n"
    "              'points': [{'metric': 'cooling.chiller1.capacity_kw', 'table': 'holding', "
    "'address': 100,\n"
    "                          'type': 'float32', 'order': 'CDAB', 'scale': 0.5, 'offset': -3, "
    "'unit': 'kW'},\n"
    "                         {'metric': 'cooling.chiller1.running', 'table': 'coil', 'address': "
    "3},\n"
    "                         {'metric': 'cooling.chiller1.alarm', 'table': 'input', 'address': 7, "
    "'bit': 2},\n"
    "                         {'metric': 'cooling.chiller1.flow', 'table': 'input', 'address': "
    "65535}]},\n"
    "             {'name': 'meter', 'transport': 'rtu', 'device': '/dev/ttyUSB0', 'baud': 19200, "
    "'parity': 'E',\n"
    "              'data_bits': 7, 'stop_bits': 2, 'unit_id': 5,\n"
    "              'points': [{'metric': 'it.load_kw', 'table': 'input', 'address': 0, 'type': "
    "'float64',\n"
    "                          'order': 'DCBA'}]}],\n"
    "  'snmp': [{'name': 'ups-a', 'host': '10.0.0.9', 'port': 1161, 'version': '3', 'user': "
    "'floe',\n"
    "            'auth_protocol': 'SHA-512', 'auth_password_file': 'ups.auth', "
    "'priv_password_file': 'ups.priv',\n"
    "            'context': 'ctx', 'interval': '30s', 'timeout': '2s', 'retries': 0,\n"
    "            'points': [{'metric': 'power.ups_a.battery_pct', 'oid': "
    "'1.3.6.1.2.1.33.1.2.4.0'},\n"
    "                       {'metric': 'power.pdu1.outlet{index}_w', 'walk': "
    "'1.3.6.1.4.1.99999.1.2',\n"
    "                        'scale': 0.1, 'offset': 1, 'unit': 'W'}]},\n"
    "           {'name': 'pdu', 'host': 'pdu.example.org', 'version': '1', 'community_file': "
    "'facility.token',\n"
    "            'points': []}],\n"
    "  'derive': [{'metric': 'cooling.capacity_kw', 'expr': 'sum(cooling.*.capacity_kw)', 'unit': "
    "'kW'}],\n"
    "  'capacity': {'power_headroom_kw': 'power.supply_kw - it.load_kw - 5', 'margin_kw': 20},\n"
    "  'policies': [{'name': 'cooling-shortfall', 'description': 'd', 'when': 'a < b', 'for': "
    "'2m',\n"
    "                'clear': 'a >= b', 'clear_for': '10m', 'severity': 'critical', 'mode': "
    "'auto',\n"
    "                'cooldown': '20m', 'action': {'type': 'shed', 'kw': 'b - a', 'deadline': "
    "'30m'}},\n"
    "               {'name': 'night', 'when': 'x > 1', 'mode': 'approve',\n"
    "                'action': {'type': 'rebalance', 'min_gain_kw': 50, 'max_migrations': 3,\n"
    "                           'min_residency': '12h'},\n"
    "                'schedule': {'window': '22:30-05:00', 'days': ['sat', 'sun']}}],\n"
    "  'peers': [{'name': 'falkenberg-1', 'url': 'https://127.0.0.1:8471', 'token': 'out-secret',\n"
    "             'ca_file': 'tls.crt', 'ingress': '198.51.100.7', 'velero_storage_location': "
    "'falkenberg-minio'}],\n"
    "  'workloads': {'source': 'static',\n"
    "                'static': [{'name': 'shop', 'power_kw': 40, 'data_gb': 37, 'priority': 10,\n"
    "                            'stateless': true, 'hostname': 'shop.apps.example.org'},\n"
    "                           {'name': 'db', 'namespace': 'mysql', 'power_kw': 0}]},\n"
    "  'traffic': {'driver': 'webhook', 'url': 'http://127.0.0.1:9000/hook', 'ttl': 60}\n"
    "}\n";

/* The migrator moves workloads through the site's Kubernetes API: with
 * its section, the workloads come from Kubernetes. */
static const char migrator_config[] =
    "{" SITE ",\n"
    "  'workloads': {'source': 'kubernetes',\n"
    "                'kubernetes': {'api': 'https://127.0.0.1:6443', 'token': 't'}},\n"
    "  'migrator': {'velero_namespace': 'backup', 'delta_interval': '5m', 'max_parallel': 4,\n"
    "               'backup_ttl': '24h', 'retain_source': 0, 'incremental_restore': true,\n"
    "               'tick': '250ms', 'backup_sync_period': '30s', 'import_ready_timeout': '5m'}\n"
    "}\n";

static void full_config_fills_every_field(void **state)
{
    const struct fixture *f = *state;
    struct floe_config *cfg = load_ok(f, full_config);
    char path[256];

    assert_string_equal(cfg->path, "floe.json");
    assert_string_equal(cfg->site.name, "lulea-1");
    assert_string_equal(cfg->site.timezone, "Europe/Stockholm");
    assert_string_equal(cfg->site.ingress, "192.0.2.10");
    assert_string_equal(cfg->store.path, "/tmp/floe.db");
    assert_int_equal(cfg->store.retention_ms, 7 * 86400000LL);
    /* Tiers left at their defaults fit into a shorter retention. */
    assert_int_equal(cfg->store.minute_retention_ms, 7 * 86400000LL);
    assert_int_equal(cfg->store.raw_retention_ms, 48 * 3600000LL);

    assert_string_equal(cfg->http.listen, "0.0.0.0:8470");
    snprintf(path, sizeof path, "%s/tls.crt", f->dir);
    assert_string_equal(cfg->http.tls_cert_file,
                        path); /* relative: against the config's directory */
    snprintf(path, sizeof path, "%s/tls.key", f->dir);
    assert_string_equal(cfg->http.tls_key_file, path);
    assert_true(cfg->http.anonymous_read);
    assert_int_equal(cfg->http.threads, 8);
    assert_int_equal(cfg->http.ntokens, 2);
    assert_string_equal(cfg->http.tokens[0].name, "noc");
    assert_int_equal(cfg->http.tokens[0].role, ROLE_READ);
    assert_string_equal(cfg->http.tokens[0].token, "s3cret-noc"); /* trimmed file content */
    assert_int_equal(cfg->http.tokens[1].role, ROLE_PEER);
    assert_string_equal(cfg->http.tokens[1].token, "peer-secret");

    assert_int_equal(cfg->nmodbus, 2);
    const struct cfg_mb_device *d = &cfg->modbus[0];
    assert_string_equal(d->name, "chiller1");
    assert_int_equal(d->transport, MB_TRANSPORT_TCP);
    assert_string_equal(d->host, "10.0.0.5");
    assert_int_equal(d->port, 1502);
    assert_int_equal(d->unit_id, 255);
    assert_int_equal(d->interval_ms, 2500); /* a number is seconds */
    assert_int_equal(d->timeout_ms, 750);
    assert_int_equal(d->retries, 3);
    assert_int_equal(d->max_registers, 64);
    assert_int_equal(d->max_gap, 4);
    assert_int_equal(d->pause_after_connect_ms, 200);
    assert_int_equal(d->pause_between_requests_ms, 20);
    assert_true(d->close_after_poll);
    assert_true(d->one_request_per_point);
    assert_int_equal(d->busy_retries, 2);
    assert_int_equal(d->busy_retry_wait_ms, 1000);
    assert_int_equal(d->npoints, 4);
    assert_int_equal(d->points[0].table, MB_TABLE_HOLDING);
    assert_int_equal(d->points[0].address, 100);
    assert_int_equal(d->points[0].type, MB_TYPE_FLOAT32);
    assert_int_equal(d->points[0].order, MB_ORDER_CDAB);
    assert_int_equal(d->points[0].bit, -1);
    assert_true(d->points[0].scale == 0.5);
    assert_true(d->points[0].offset == -3);
    assert_string_equal(d->points[0].unit, "kW");
    assert_int_equal(d->points[1].table, MB_TABLE_COIL);
    assert_int_equal(d->points[1].type, MB_TYPE_BOOL); /* coils are bool without saying so */
    assert_int_equal(d->points[2].type, MB_TYPE_BOOL); /* so are register bits */
    assert_int_equal(d->points[2].bit, 2);
    assert_int_equal(d->points[3].type, MB_TYPE_UINT16); /* the default for registers */
    assert_int_equal(d->points[3].address, 65535);       /* one register: the last one fits */

    d = &cfg->modbus[1];
    assert_int_equal(d->transport, MB_TRANSPORT_RTU);
    assert_null(d->host);
    assert_string_equal(d->device, "/dev/ttyUSB0");
    assert_int_equal(d->baud, 19200);
    assert_int_equal(d->parity, 'E');
    assert_int_equal(d->data_bits, 7);
    assert_int_equal(d->stop_bits, 2);
    assert_int_equal(d->unit_id, 5);
    assert_int_equal(d->points[0].type, MB_TYPE_FLOAT64);
    assert_int_equal(d->points[0].order, MB_ORDER_DCBA);

    assert_int_equal(cfg->nsnmp, 2);
    const struct cfg_snmp_device *s = &cfg->snmp[0];
    assert_int_equal(s->port, 1161);
    assert_int_equal(s->version, SNMP_V3);
    assert_null(s->community);
    assert_string_equal(s->user, "floe");
    assert_int_equal(s->level, SNMP_AUTH_PRIV); /* inferred from the passwords */
    assert_int_equal(s->auth_protocol, SNMP_AUTH_SHA512);
    assert_string_equal(s->auth_password, "authpass1");
    assert_int_equal(s->priv_protocol, SNMP_PRIV_AES); /* default */
    assert_string_equal(s->priv_password, "privpass1");
    assert_string_equal(s->context, "ctx");
    assert_int_equal(s->interval_ms, 30000);
    assert_int_equal(s->timeout_ms, 2000);
    assert_int_equal(s->retries, 0);
    assert_int_equal(s->npoints, 2);
    assert_string_equal(s->points[0].oid, "1.3.6.1.2.1.33.1.2.4.0");
    assert_null(s->points[0].walk);
    assert_string_equal(s->points[1].metric, "power.pdu1.outlet{index}_w");
    assert_null(s->points[1].oid);
    assert_string_equal(s->points[1].walk, "1.3.6.1.4.1.99999.1.2");
    assert_true(s->points[1].scale == 0.1);
    assert_true(s->points[1].offset == 1);
    assert_string_equal(s->points[1].unit, "W");
    assert_int_equal(cfg->snmp[1].version, SNMP_V1);
    assert_string_equal(cfg->snmp[1].community, "facility-secret");
    assert_int_equal(cfg->snmp[1].npoints, 0);

    assert_int_equal(cfg->nderive, 1);
    assert_string_equal(cfg->derive[0].expr, "sum(cooling.*.capacity_kw)");
    assert_string_equal(cfg->capacity.power_headroom_kw, "power.supply_kw - it.load_kw - 5");
    assert_string_equal(cfg->capacity.cooling_headroom_kw, "cooling.capacity_kw - it.load_kw");
    assert_true(cfg->capacity.margin_kw == 20);

    assert_int_equal(cfg->npolicies, 2);
    const struct cfg_policy *p = &cfg->policies[0];
    assert_string_equal(p->description, "d");
    assert_string_equal(p->when, "a < b");
    assert_int_equal(p->for_ms, 120000);
    assert_string_equal(p->clear, "a >= b");
    assert_int_equal(p->clear_for_ms, 600000);
    assert_int_equal(p->severity, POL_SEV_CRITICAL);
    assert_int_equal(p->mode, POL_MODE_AUTO);
    assert_int_equal(p->cooldown_ms, 1200000);
    assert_int_equal(p->action.type, POL_ACTION_SHED);
    assert_string_equal(p->action.kw, "b - a");
    assert_int_equal(p->action.deadline_ms, 1800000);
    assert_false(p->has_schedule);
    p = &cfg->policies[1];
    assert_int_equal(p->mode, POL_MODE_APPROVE);
    assert_int_equal(p->action.type, POL_ACTION_REBALANCE);
    assert_true(p->action.min_gain_kw == 50);
    assert_int_equal(p->action.max_migrations, 3);
    assert_int_equal(p->action.min_residency_ms, 12 * 3600000LL);
    assert_true(p->has_schedule);
    assert_int_equal(p->schedule.start_min, 22 * 60 + 30);
    assert_int_equal(p->schedule.end_min, 5 * 60); /* wraps past midnight */
    assert_int_equal(p->schedule.days_mask, (1u << 5) | (1u << 6));

    assert_int_equal(cfg->npeers, 1);
    assert_string_equal(cfg->peers[0].url, "https://127.0.0.1:8471");
    assert_string_equal(cfg->peers[0].token, "out-secret");
    snprintf(path, sizeof path, "%s/tls.crt", f->dir);
    assert_string_equal(cfg->peers[0].ca_file, path);
    assert_string_equal(cfg->peers[0].ingress, "198.51.100.7");
    assert_string_equal(cfg->peers[0].velero_storage_location, "falkenberg-minio");

    assert_string_equal(cfg->workloads.source, "static");
    assert_int_equal(cfg->workloads.nstatics, 2);
    assert_string_equal(cfg->workloads.statics[0].namespace_, "shop"); /* defaults to the name */
    assert_true(cfg->workloads.statics[0].power_kw == 40);
    assert_true(cfg->workloads.statics[0].data_gb == 37);
    assert_int_equal(cfg->workloads.statics[0].priority, 10);
    assert_true(cfg->workloads.statics[0].stateless);
    assert_string_equal(cfg->workloads.statics[0].hostname, "shop.apps.example.org");
    assert_string_equal(cfg->workloads.statics[1].namespace_, "mysql");
    assert_int_equal(cfg->workloads.statics[1].priority, 50);

    assert_false(cfg->migrator.enabled);
    assert_string_equal(cfg->traffic.driver, "webhook");
    assert_string_equal(cfg->traffic.url, "http://127.0.0.1:9000/hook");
    assert_int_equal(cfg->traffic.ttl, 60);
    cfg_free(cfg);
}

static void migrator_config_fills_every_field(void **state)
{
    struct floe_config *cfg = load_ok(*state, migrator_config);
    assert_true(cfg->migrator.enabled);
    assert_string_equal(cfg->migrator.velero_namespace, "backup");
    assert_int_equal(cfg->migrator.delta_interval_ms, 300000);
    assert_int_equal(cfg->migrator.max_parallel, 4);
    assert_int_equal(cfg->migrator.backup_ttl_ms, 86400000);
    assert_int_equal(cfg->migrator.retain_source_ms, 0);
    assert_true(cfg->migrator.incremental_restore);
    assert_int_equal(cfg->migrator.tick_ms, 250);
    assert_int_equal(cfg->migrator.backup_sync_period_ms, 30000);
    assert_int_equal(cfg->migrator.import_ready_timeout_ms, 300000);
    cfg_free(cfg);
}

static void minimal_config_gets_the_documented_defaults(void **state)
{
    struct floe_config *cfg = load_ok(*state, "{" SITE ", " MB("", REG("")) ", " SNMP(
                                                  "", OIDPT) ", 'policies': [" POLICY("") "]}");

    assert_string_equal(cfg->site.timezone, "UTC");
    assert_null(cfg->site.ingress);
    assert_string_equal(cfg->store.path, CFG_DEFAULT_STORE_PATH);
    assert_int_equal(cfg->store.retention_ms, 365 * 86400000LL);
    assert_int_equal(cfg->store.minute_retention_ms, 30 * 86400000LL);
    assert_int_equal(cfg->store.raw_retention_ms, 48 * 3600000LL);
    assert_string_equal(cfg->http.listen, CFG_DEFAULT_LISTEN);
    assert_null(cfg->http.tls_cert_file);
    assert_null(cfg->http.tls_key_file);
    assert_false(cfg->http.anonymous_read);
    assert_int_equal(cfg->http.threads, 4);
    assert_int_equal(cfg->http.ntokens, 0);

    const struct cfg_mb_device *d = &cfg->modbus[0];
    assert_int_equal(d->transport, MB_TRANSPORT_TCP);
    assert_int_equal(d->port, 502);
    assert_int_equal(d->baud, 9600);
    assert_int_equal(d->parity, 'N');
    assert_int_equal(d->data_bits, 8);
    assert_int_equal(d->stop_bits, 1);
    assert_int_equal(d->unit_id, 1);
    assert_int_equal(d->interval_ms, 5000);
    assert_int_equal(d->timeout_ms, 1000);
    assert_int_equal(d->retries, 1);
    assert_int_equal(d->max_registers, 125);
    assert_int_equal(d->max_gap, 8);
    assert_int_equal(d->pause_after_connect_ms, 0);
    assert_int_equal(d->pause_between_requests_ms, 0);
    assert_false(d->close_after_poll);
    assert_false(d->one_request_per_point);
    assert_int_equal(d->busy_retries, 0);
    assert_int_equal(d->busy_retry_wait_ms, 500);
    assert_int_equal(d->points[0].type, MB_TYPE_UINT16);
    assert_int_equal(d->points[0].order, MB_ORDER_ABCD);
    assert_int_equal(d->points[0].bit, -1);
    assert_true(d->points[0].scale == 1);
    assert_true(d->points[0].offset == 0);
    assert_string_equal(d->points[0].unit, "");

    const struct cfg_snmp_device *s = &cfg->snmp[0];
    assert_int_equal(s->port, 161);
    assert_int_equal(s->version, SNMP_V2C);
    assert_string_equal(s->community, "public");
    assert_null(s->user);
    assert_int_equal(s->interval_ms, 10000);
    assert_int_equal(s->timeout_ms, 1000);
    assert_int_equal(s->retries, 1);
    assert_int_equal(s->walk_growth_check_ms, 60000);
    assert_true(s->points[0].scale == 1);
    assert_string_equal(s->points[0].unit, "");

    assert_string_equal(cfg->capacity.power_headroom_kw, "power.supply_kw - it.load_kw");
    assert_string_equal(cfg->capacity.cooling_headroom_kw, "cooling.capacity_kw - it.load_kw");
    assert_true(cfg->capacity.margin_kw == 0);

    const struct cfg_policy *p = &cfg->policies[0];
    assert_string_equal(p->description, "");
    assert_null(p->clear);
    assert_int_equal(p->for_ms, 0);
    assert_int_equal(p->clear_for_ms, 0);
    assert_int_equal(p->severity, POL_SEV_WARNING);
    assert_int_equal(p->mode, POL_MODE_OBSERVE);
    assert_int_equal(p->cooldown_ms, 15 * 60000);
    assert_int_equal(p->action.type, POL_ACTION_NOTIFY);
    assert_null(p->action.kw);
    assert_int_equal(p->action.deadline_ms, 0);
    assert_int_equal(p->action.max_migrations, 1);
    assert_int_equal(p->action.min_residency_ms, 24 * 3600000LL);
    assert_false(p->has_schedule);

    assert_null(cfg->policies_dir);
    assert_int_equal(cfg->npeers, 0);
    assert_int_equal(cfg->peers_poll_ms, 30000);
    assert_null(cfg->workloads.source);
    assert_string_equal(cfg->workloads.k8s_label_selector, "floe.dev/movable=true");
    assert_string_equal(cfg->migrator.driver, "velero");
    assert_string_equal(cfg->migrator.velero_namespace, "velero");
    assert_int_equal(cfg->migrator.delta_interval_ms, 600000);
    assert_int_equal(cfg->migrator.max_parallel, 2);
    assert_int_equal(cfg->migrator.backup_ttl_ms, 72 * 3600000LL);
    assert_int_equal(cfg->migrator.retain_source_ms, 24 * 3600000LL);
    assert_false(cfg->migrator.incremental_restore);
    assert_false(cfg->migrator.enabled);
    assert_int_equal(cfg->migrator.tick_ms, 1000);
    assert_int_equal(cfg->migrator.backup_sync_period_ms, 60000);
    assert_int_equal(cfg->migrator.import_ready_timeout_ms, 600000);
    assert_string_equal(cfg->traffic.driver, "none");
    assert_string_equal(cfg->traffic.server_id, "localhost");
    assert_int_equal(cfg->traffic.ttl, 30);
    cfg_free(cfg);
}

/* ---- smaller behaviours ------------------------------------------------------- */

static void a_peer_token_may_come_from_a_file(void **state)
{
    struct floe_config *cfg = load_ok(
        *state, "{" SITE ", 'peers_poll': '2m', 'peers': [{'name': 'falkenberg-1', 'url': "
                "'http://127.0.0.1:8471', 'token_file': 'noc.token'}]}");
    assert_int_equal(cfg->npeers, 1);
    assert_string_equal(cfg->peers[0].token, "s3cret-noc"); /* trimmed */
    assert_int_equal(cfg->peers_poll_ms, 120000);
    cfg_free(cfg);
}

static void comment_markers_inside_strings_are_kept(void **state)
{
    struct floe_config *cfg = load_ok(
        *state, "{ // the site\n" SITE
                ", /* peers: */ 'peers': [{'name': 'p', 'url': 'http://127.0.0.1:1/a//b/*c*/',\n"
                "  'token': 't // \\\" /* x */'}] // end\n}");
    assert_string_equal(cfg->peers[0].url, "http://127.0.0.1:1/a//b/*c*/");
    assert_string_equal(cfg->peers[0].token, "t // \" /* x */");
    cfg_free(cfg);
}

static void single_quotes_are_a_syntax_error_with_position(void **state)
{
    (void)state;
    struct cfg_errors errs = {0};
    const char *text = "{\"site\": {'name': 1}}";
    assert_null(cfg_load_buffer("f.json", text, strlen(text), NULL, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(
        errs.lines[0],
        "f.json:1:11: keys and strings use double quotes, not single quotes");
    cfg_errors_clear(&errs);
}

/* A body with 100,000 distinct unknown keys (a 1 MiB PUT holds that
 * many) is judged in linear time: a scan of every earlier key for each key
 * took about 35 s here, an HTTP thread's worth of CPU per request. */
static void many_unknown_keys_are_judged_in_linear_time(void **state)
{
    (void)state;
    enum { NKEYS = 100000 };
    size_t cap = 64 + (size_t)NKEYS * 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "{\"site\": {\"name\": \"t\"");
    for (int i = 0; i < NKEYS; i++)
        len += (size_t)snprintf(text + len, cap - len, ", \"k%d\": 0", i);
    len += (size_t)snprintf(text + len, cap - len, "}}");
    struct cfg_errors errs = {0};
    int64_t start = util_mono_ms();
    assert_null(cfg_load_buffer("f.json", text, len, NULL, &errs));
    int64_t took_ms = util_mono_ms() - start;
    assert_true(errs.n > 0);
    assert_non_null(strstr(errs.lines[0], "site.k0: unknown key"));
    if (took_ms > 10000)
        fail_msg("%d unknown keys took %lld ms", NKEYS, (long long)took_ms);
    cfg_errors_clear(&errs);
    free(text);
}

static void snmp_v3_level_follows_the_passwords_given(void **state)
{
    struct floe_config *cfg =
        load_ok(*state, "{" SITE ", 'snmp': ["
                        "{'name': 'a', 'host': 'h', 'version': 3, 'user': 'u', 'auth_password': "
                        "'authpass1', 'points': []},"
                        "{'name': 'b', 'host': 'h', 'version': 3, 'user': 'u', 'points': []},"
                        "{'name': 'c', 'host': 'h', 'version': 3, 'user': 'u', 'level': "
                        "'authNoPriv', 'auth_protocol': 'MD5',"
                        " 'auth_password': 'authpass1', 'points': []}]}");
    assert_int_equal(cfg->snmp[0].level, SNMP_AUTH_NOPRIV);
    assert_int_equal(cfg->snmp[0].auth_protocol, SNMP_AUTH_SHA);
    assert_int_equal(cfg->snmp[0].priv_protocol, SNMP_PRIV_NONE);
    assert_int_equal(cfg->snmp[1].level, SNMP_NOAUTH_NOPRIV);
    assert_int_equal(cfg->snmp[1].auth_protocol, SNMP_AUTH_NONE);
    assert_int_equal(cfg->snmp[2].auth_protocol, SNMP_AUTH_MD5);
    cfg_free(cfg);
}

static void window_ending_at_24_00_ends_at_midnight(void **state)
{
    struct floe_config *cfg = load_ok(
        *state, "{" SITE ", 'policies': [" POLICY(", 'schedule': {'window': '22:00-24:00'}") "]}");
    assert_int_equal(cfg->policies[0].schedule.start_min, 22 * 60);
    assert_int_equal(cfg->policies[0].schedule.end_min, 0);
    assert_int_equal(cfg->policies[0].schedule.days_mask, 0x7f); /* every day */
    cfg_free(cfg);
}

static void cfg_load_resolves_files_against_the_config_directory(void **state)
{
    const struct fixture *f = *state;
    char *text = expand(
        "{" SITE ", " TOKENS("{'name': 'noc', 'role': 'read', 'token_file': 'noc.token'}") "}",
        f->dir, 1);
    write_file(f->dir, "floe.json", text);
    free(text);
    char path[256];
    snprintf(path, sizeof path, "%s/floe.json", f->dir);
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load(path, &errs);
    print_errors(&errs);
    assert_non_null(cfg);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->http.tokens[0].token, "s3cret-noc");
    cfg_free(cfg);
}

static void cfg_load_of_a_missing_file_names_it(void **state)
{
    const struct fixture *f = *state;
    char path[256], want[320];
    snprintf(path, sizeof path, "%s/absent.json", f->dir);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    struct cfg_errors errs = {0};
    assert_null(cfg_load(path, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.lines[0], want);
    cfg_errors_clear(&errs);
}

static void write_policy(const struct fixture *f, const char *name, const char *q)
{
    char *text = expand(q, f->dir, 1);
    write_file(f->dir, name, text);
    free(text);
}

static void policies_dir_loads_json_files_in_name_order(void **state)
{
    const struct fixture *f = *state;
    make_dir(f->dir, "policies.d");
    make_dir(f->dir, "policies.d/nested.json"); /* a directory, not a policy */
    write_policy(f, "policies.d/b.json",
                 "// second\n{'name': 'b', 'when': 'x > 2', 'mode': 'auto'}");
    write_policy(f, "policies.d/a.json", "{'name': 'a', 'when': 'x > 1'}");
    write_policy(f, "policies.d/notes.txt", "not a policy");
    write_policy(f, "policies.d/.hidden.json", "not a policy either");
    struct floe_config *cfg =
        load_ok(f, "{" SITE ", 'policies': [" POLICY("") "], 'policies_dir': 'policies.d'}");
    assert_int_equal(cfg->npolicies, 3);
    assert_string_equal(cfg->policies[0].name, "p1");
    assert_string_equal(cfg->policies[1].name, "a");
    assert_string_equal(cfg->policies[2].name, "b");
    assert_int_equal(cfg->policies[2].mode, POL_MODE_AUTO);
    assert_int_equal(cfg->policies[1].cooldown_ms, 15 * 60000); /* defaults apply as inline */
    cfg_free(cfg);
}

static void policies_dir_errors_name_the_file(void **state)
{
    const struct fixture *f = *state;
    make_dir(f->dir, "policies.d");
    write_policy(f, "policies.d/a.json", "{'name': 'p1', 'when': 'x > 1'}");
    write_policy(f, "policies.d/b.json", "{'name': 'b', 'when': 'x > 1', 'mode': 'sometimes'}");
    write_policy(f, "policies.d/c.json", "{'name': 'c',\n 'when': }");
    struct cfg_errors errs = {0};
    struct floe_config *cfg =
        load(f, "{" SITE ", 'policies': [" POLICY("") "], 'policies_dir': 'policies.d'}", &errs);
    assert_null(cfg);
    const char *want[] = {
        "@DIR@/policies.d/b.json:1:40: mode: must be one of auto, approve, observe",
        "@DIR@/policies.d/c.json:2:10: expected a value, found '}'",
        ("@DIR@/policies.d/a.json:1:10: name: duplicate policy name 'p1' "
         "(first in floe.json: policies[0].name)"),
    };
    print_errors(&errs);
    assert_int_equal(errs.n, ARRAY_LEN(want));
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        char *w = expand(want[i], f->dir, 0);
        assert_string_equal(errs.lines[i], w);
        free(w);
    }
    cfg_errors_clear(&errs);
}

static void policy_json_is_parsed_with_the_same_rules(void **state)
{
    (void)state;
    struct cfg_errors errs = {0};
    struct cfg_policy p;
    const char *ok = "{\"name\": \"api-1\", \"when\": \"a > b\", \"mode\": \"approve\", "
                     "\"action\": {\"type\": \"shed\", \"kw\": \"a - b\"}, "
                     "\"schedule\": {\"window\": \"01:00-05:00\", \"days\": [\"mon\"]}}";
    assert_int_equal(cfg_parse_policy_json(ok, strlen(ok), "body", &p, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(p.name, "api-1");
    assert_int_equal(p.mode, POL_MODE_APPROVE);
    assert_int_equal(p.severity, POL_SEV_WARNING);
    assert_string_equal(p.action.kw, "a - b");
    assert_true(p.has_schedule);
    assert_int_equal(p.schedule.days_mask, 1);
    cfg_policy_clear(&p);
    assert_null(p.name);

    const char *bad = "{\"name\": \"api-1\", \"whenn\": \"a > b\", \"mode\": \"later\"}";
    assert_int_equal(cfg_parse_policy_json(bad, strlen(bad), "body", &p, &errs), -1);
    const char *want[] = {
        "body: whenn: unknown key (did you mean 'when'?)",
        "body: when: missing required key",
        "body: mode: must be one of auto, approve, observe",
    };
    print_errors(&errs);
    assert_int_equal(errs.n, ARRAY_LEN(want));
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        assert_string_equal(errs.lines[i], want[i]);
    assert_null(p.name); /* nothing is left allocated on failure */
    cfg_errors_clear(&errs);

    assert_int_equal(cfg_parse_policy_json("{", 1, "body", &p, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(
        errs.lines[0],
        "body: line 1 column 2: expected a key in double quotes, found end of input");
    cfg_errors_clear(&errs);
}

static void errors_are_appended_to_existing_ones(void **state)
{
    struct cfg_errors errs = {0};
    struct cfg_errors *e = &errs;
    e->lines = malloc(sizeof *e->lines);
    assert_non_null(e->lines);
    e->lines[0] = strdup("earlier");
    e->n = 1;
    assert_null(load(*state, "{}", &errs));
    assert_int_equal(errs.n, 2);
    assert_string_equal(errs.lines[0], "earlier");
    assert_string_equal(errs.lines[1], "floe.json:1:1: site: missing required key");
    cfg_errors_clear(&errs);
    assert_int_equal(errs.n, 0);
}

static void thousands_of_errors_are_capped_with_a_count(void **state)
{
    size_t cap = 64 * 1024, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "{\"site\": {\"name\": \"s\"}");
    for (int i = 0; i < 1100; i++)
        n += (size_t)snprintf(text + n, cap - n, ", \"k%d\": 1", i);
    snprintf(text + n, cap - n, "}");
    struct cfg_errors errs = {0};
    const struct fixture *f = *state;
    assert_null(cfg_load_buffer("floe.json", text, strlen(text), f->dir, &errs));
    assert_int_equal(errs.n, 1001);
    assert_string_equal(errs.lines[0], "floe.json:1:25: k0: unknown key");
    assert_string_equal(errs.lines[1000], "floe.json: 100 more errors not shown");
    cfg_errors_clear(&errs);
    free(text);
}

/* ---- positions, warnings, shared registers --------------------------------------- */

static void field_errors_give_line_column_and_metric(void **state)
{
    static const char text[] =
        "// chillers\n"
        "{\n"
        "  'site': {'name': 'lulea-1'},\n"
        "  'modbus': [{'name': 'chiller1', 'host': '10.0.0.5',\n"
        "    'points': [\n"
        "      {'metric': 'cooling.chiller1.capacity_kw', 'table': 'holding', 'address': 100,\n"
        "       'type': 'float32', 'order': 'ABDC'},\n"
        "      {'metric': 'cooling.chiller1.flow', 'table': 'input', 'address': 7, 'scael': 2},\n"
        "      {'metric': 'cooling.chiller1.alarm', 'table': 'coil'}\n"
        "    ]}],\n"
        "  'derive': [{'metric': 'cooling.chiller1.flow', 'expr': '1'}]\n"
        "}\n";
    /* The value for a bad value, the key for a bad key, the object for a
     * missing key; the metric names the point, except on the metric itself. */
    const char *want[] = {
        "floe.json:7:36: modbus[0].points[0].order (metric cooling.chiller1.capacity_kw): "
        "must be one of ABCD, DCBA, BADC, CDAB",
        "floe.json:8:75: modbus[0].points[1].scael (metric cooling.chiller1.flow): "
        "unknown key (did you mean 'scale'?)",
        "floe.json:9:7: modbus[0].points[2].address (metric cooling.chiller1.alarm): "
        "missing required key",
        "floe.json:11:25: derive[0].metric: duplicate metric 'cooling.chiller1.flow' "
        "(first at modbus[0].points[1].metric)",
    };
    struct cfg_errors errs = {0};
    assert_null(load(*state, text, &errs));
    print_errors(&errs);
    assert_int_equal(errs.n, ARRAY_LEN(want));
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        assert_string_equal(errs.lines[i], want[i]);
    cfg_errors_clear(&errs);
}

static void points_sharing_registers_legitimately_are_accepted(void **state)
{
    /* Bits of one register, a bit inside a float, the same registers read
     * twice (two byte orders, signed and unsigned), equal addresses in
     * different tables, and neighbours that only touch. */
    struct floe_config *cfg = load_ok(
        *state, "{" SITE ", " MB("",
                    "{'metric': 'a.bit0', 'table': 'holding', 'address': 10, 'bit': 0},"
                    "{'metric': 'a.bit1', 'table': 'holding', 'address': 10, 'bit': 1},"
                    "{'metric': 'a.whole', 'table': 'holding', 'address': 10},"
                    "{'metric': 'a.flow', 'table': 'holding', 'address': 100, 'type': 'float32'},"
                    "{'metric': 'a.flow_flag', 'table': 'holding', 'address': 101, 'bit': 15},"
                    "{'metric': 'a.temp_abcd', 'table': 'holding', 'address': 200, 'type': 'float32'},"
                    "{'metric': 'a.temp_cdab', 'table': 'holding', 'address': 200, 'type': 'float32', "
                    "'order': 'CDAB'},"
                    "{'metric': 'a.count_u', 'table': 'input', 'address': 300},"
                    "{'metric': 'a.count_s', 'table': 'input', 'address': 300, 'type': 'int16'},"
                    "{'metric': 'a.h', 'table': 'holding', 'address': 400, 'type': 'float32'},"
                    "{'metric': 'a.i', 'table': 'input', 'address': 401},"
                    "{'metric': 'a.next', 'table': 'holding', 'address': 102}") "}");
    assert_int_equal(cfg->modbus[0].npoints, 12);
    cfg_free(cfg);
}

static void addresses_that_look_like_register_numbers_warn(void **state)
{
    static const struct {
        const char *table, *address;
        const char *warning; /* the message after "warning: ", NULL: none */
        bool error;          /* also refused (a 6-digit number is no address) */
    } cases[] = {
        {"holding", "40101",
         "40101 looks like a register number: if the manual numbers registers from 40001, the "
         "protocol address of register 40101 is 100 (\"address\" counts from 0); a map that "
         "starts at protocol address 40000 (SunSpec) is right as it is",
         false},
        {"input", "30001",
         "30001 looks like a register number: if the manual numbers registers from 30001, the "
         "protocol address of register 30001 is 0 (\"address\" counts from 0); a map that "
         "starts at protocol address 30000 (SunSpec) is right as it is",
         false},
        {"discrete", "19999",
         "19999 looks like a register number: if the manual numbers registers from 10001, the "
         "protocol address of register 19999 is 9998 (\"address\" counts from 0); a map that "
         "starts at protocol address 10000 (SunSpec) is right as it is",
         false},
        {"holding", "400101",
         "400101 looks like a register number; the protocol address of register 400101 is 100 "
         "(\"address\" counts from 0)",
         true},
        {"holding", "40000", NULL, false},  /* register numbers start at 40001 */
        {"holding", "50001", NULL, false},
        {"input", "40101", NULL, false},    /* the wrong table's numbering: a plain address */
        {"coil", "10001", NULL, false},     /* coil numbers look like any address */
        {"holding", "100", NULL, false},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char json[512], want[512];
        snprintf(json, sizeof json, "{" SITE ", " MB("", PT("%s", "%s", "")) "}", cases[i].table,
                 cases[i].address);
        char *text = expand(json, "", 1);
        struct cfg_errors errs = {0}, warnings = {0};
        struct floe_config *cfg =
            cfg_load_buffer_warn("floe.json", text, strlen(text), NULL, &errs, &warnings);
        print_errors(&errs);
        print_errors(&warnings);
        if (cases[i].error)
            assert_null(cfg);
        else
            assert_non_null(cfg);
        assert_int_equal(warnings.n, cases[i].warning ? 1 : 0);
        if (cases[i].warning) {
            snprintf(want, sizeof want,
                     "floe.json:1:%zu: modbus[0].points[0].address (metric "
                     "cooling.chiller1.capacity_kw): warning: %s",
                     (size_t)(strstr(text, cases[i].address) - text) + 1, cases[i].warning);
            assert_string_equal(warnings.lines[0], want);
        }
        cfg_free(cfg);
        free(text);
        cfg_errors_clear(&errs);
        cfg_errors_clear(&warnings);
    }
    (void)state;
}

/* The register-number warning is one per device, and only when every
 * register address of the device looks like one: a device with points at
 * 100 and 40101 is a real map reaching high, not a manual's numbering. */
static void the_register_number_warning_is_per_device(void **state)
{
    (void)state;
    static const struct {
        const char *points;
        const char *warning_start; /* NULL: no warning */
    } cases[] = {
        {PT("holding", "100", "") ", " PT("holding", "40101", ""), NULL},
        {PT("holding", "40003", "") ", " PT("holding", "40101", "") ", " PT("coil", "5", ""),
         "floe.json:1:"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char json[1024];
        snprintf(json, sizeof json, "{" SITE ", " MB("", "%s") "}", cases[i].points);
        char *text = expand(json, "", 1);
        /* Points of one device need distinct metrics. */
        for (char *m = text, n = 'a'; (m = strstr(m, "capacity_kw")); m++)
            m[0] = n++;
        struct cfg_errors errs = {0}, warnings = {0};
        struct floe_config *cfg =
            cfg_load_buffer_warn("floe.json", text, strlen(text), NULL, &errs, &warnings);
        print_errors(&errs);
        assert_non_null(cfg);
        assert_int_equal(warnings.n, cases[i].warning_start ? 1 : 0);
        if (cases[i].warning_start) {
            assert_non_null(strstr(warnings.lines[0], "modbus[0].points[0].address"));
            assert_non_null(strstr(warnings.lines[0], "40003 looks like a register number, as do "
                                                      "all 2 addresses of this device"));
        }
        cfg_free(cfg);
        free(text);
        cfg_errors_clear(&errs);
        cfg_errors_clear(&warnings);
    }
}

static void devices_are_listed_whatever_their_protocol(void **state)
{
    struct floe_config *cfg = load_ok(
        *state, "{" SITE ", 'snmp': [{'name': 'pdu', 'host': 'h', 'interval': '30s', 'points': ["
                OIDPT ", {'metric': 'power.pdu.outlet{index}_w', 'walk': '1.3.6.1.2', "
                "'unit': 'W'}]}], "
                "'modbus': [{'name': 'm1', 'host': 'h', 'timeout': '2s', 'points': [" REG(", 'unit': 'kW'")
                "]}, {'name': 'm2', 'host': 'h', 'points': []}]}");
    assert_int_equal(cfg->ndevices, 3);
    const struct cfg_device *d = cfg->devices;
    /* Section by section, in the order of the schema (modbus first). */
    assert_string_equal(d[0].name, "m1");
    assert_string_equal(d[0].protocol, "modbus");
    assert_int_equal(d[0].index, 0);
    assert_int_equal(d[0].interval_ms, 5000);
    assert_int_equal(d[0].timeout_ms, 2000);
    assert_ptr_equal(d[0].config, &cfg->modbus[0]);
    assert_int_equal(d[0].nmetrics, 1);
    assert_string_equal(d[0].metrics[0].name, "cooling.chiller1.capacity_kw");
    assert_string_equal(d[0].metrics[0].unit, "kW");
    assert_false(d[0].metrics[0].is_template);
    assert_string_equal(d[1].name, "m2");
    assert_int_equal(d[1].index, 1);
    assert_int_equal(d[1].nmetrics, 0);
    assert_string_equal(d[2].name, "pdu");
    assert_string_equal(d[2].protocol, "snmp");
    assert_int_equal(d[2].index, 0);
    assert_int_equal(d[2].interval_ms, 30000);
    assert_ptr_equal(d[2].config, &cfg->snmp[0]);
    assert_int_equal(d[2].nmetrics, 2);
    assert_false(d[2].metrics[0].is_template);
    assert_string_equal(d[2].metrics[1].name, "power.pdu.outlet{index}_w");
    assert_string_equal(d[2].metrics[1].unit, "W");
    assert_true(d[2].metrics[1].is_template);
    char summary[128];
    cfg_devices_summary(cfg, summary, sizeof summary);
    assert_string_equal(summary, "2 Modbus and 1 SNMP devices");
    cfg_free(cfg);
}

/* The config, the SNMP collector, the policy checks and replay once had
 * their own idea of "{index}"; these are the cases where they disagreed. */
static void walk_templates_expand_and_match_alike(void **state)
{
    (void)state;
    static const struct {
        const char *tmpl, *name;
        bool match;
    } matches[] = {
        {"power.pdu1.outlet{index}_w", "power.pdu1.outlet7_w", true},
        {"power.pdu1.outlet{index}_w", "power.pdu1.outlet1_2_w", true},
        /* every {index} is the same index (the collector replaces all) */
        {"a{index}.b{index}", "a3.b3", true},
        {"a{index}.b{index}", "a3.b4", false},
        /* an index is numbers joined by '_', nothing else */
        {"power.pdu1.outlet{index}_w", "power.pdu1.outletx_w", false},
        {"power.pdu1.outlet{index}_w", "power.pdu1.outlet__w", false},
        {"power.pdu1.outlet{index}_w", "power.pdu1.outlet_w", false},
        {"power.pdu1.outlet{index}_w", "power.pdu1.outlet1__2_w", false},
        /* the text after {index} may start like an index */
        {"x.y{index}_1", "x.y3_1", true},
        {"x.y{index}_1", "x.y3_1_1", true},
        {"sensors.{index}.temp_c", "sensors.1004.temp_c", true},
        {"plain.name", "plain.name", true},
        {"plain.name", "plain.name2", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(matches); i++)
        if (cfg_metric_template_matches(matches[i].tmpl, matches[i].name) != matches[i].match)
            fail_msg("'%s' vs '%s': want %s", matches[i].tmpl, matches[i].name,
                     matches[i].match ? "a match" : "no match");

    /* What expand gives, matches says it gives. */
    static const char *const templates[] = {"a{index}.b{index}", "x.y{index}_1", "p.o{index}_w"};
    static const char *const indexes[] = {"0", "7", "1_2", "4294967295"};
    for (size_t t = 0; t < ARRAY_LEN(templates); t++)
        for (size_t x = 0; x < ARRAY_LEN(indexes); x++) {
            char name[128], err[160];
            assert_int_equal(cfg_metric_template_expand(templates[t], indexes[x], name,
                                                        sizeof name, err, sizeof err),
                             0);
            assert_true(cfg_metric_template_matches(templates[t], name));
        }

    char out[16], err[160];
    assert_int_equal(cfg_metric_template_expand("a.b", "1", out, sizeof out, err, sizeof err), -1);
    assert_string_equal(err, "metric template \"a.b\" has no {index}");
    assert_int_equal(cfg_metric_template_expand("a.b{index}", "1.2", out, sizeof out, err,
                                                sizeof err),
                     -1);
    assert_string_equal(err, "'1.2' is not a row index (numbers joined by '_')");

    char msg[256];
    assert_int_equal(cfg_metric_template_check("power.{index}.w", msg, sizeof msg), 0);
    assert_int_equal(cfg_metric_template_check("power.w", msg, sizeof msg), -1);
    assert_int_equal(cfg_metric_template_check("Power.{index}", msg, sizeof msg), -1);
    assert_true(cfg_metric_is_template("a{index}"));
    assert_false(cfg_metric_is_template("a{inde}"));
}

static void register_counts_match_types(void **state)
{
    (void)state;
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_UINT16), 1);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_INT16), 1);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_BOOL), 1);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_UINT32), 2);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_INT32), 2);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_FLOAT32), 2);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_UINT64), 4);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_INT64), 4);
    assert_int_equal(cfg_mb_type_registers(MB_TYPE_FLOAT64), 4);
}

static void names_of_roles_and_tables(void **state)
{
    (void)state;
    assert_string_equal(cfg_role_name(ROLE_NONE), "none");
    assert_string_equal(cfg_role_name(ROLE_READ), "read");
    assert_string_equal(cfg_role_name(ROLE_OPERATOR), "operator");
    assert_string_equal(cfg_role_name(ROLE_ADMIN), "admin");
    assert_string_equal(cfg_role_name(ROLE_PEER), "peer");
    assert_string_equal(cfg_mb_table_name(MB_TABLE_HOLDING), "holding");
    assert_string_equal(cfg_mb_table_name(MB_TABLE_INPUT), "input");
    assert_string_equal(cfg_mb_table_name(MB_TABLE_COIL), "coil");
    assert_string_equal(cfg_mb_table_name(MB_TABLE_DISCRETE), "discrete");
    cfg_free(NULL);
    cfg_policy_clear(NULL);
    cfg_errors_clear(NULL);
}

/* ---- runner ------------------------------------------------------------------- */

#define FIXED(fn)                                                                                  \
    {                                                                                              \
#fn, fn, fixture_setup, fixture_teardown, NULL                                             \
    }

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        FIXED(full_config_fills_every_field),
        FIXED(migrator_config_fills_every_field),
        FIXED(minimal_config_gets_the_documented_defaults),
        FIXED(a_peer_token_may_come_from_a_file),
        FIXED(comment_markers_inside_strings_are_kept),
        FIXED(single_quotes_are_a_syntax_error_with_position),
        FIXED(snmp_v3_level_follows_the_passwords_given),
        FIXED(many_unknown_keys_are_judged_in_linear_time),
        FIXED(window_ending_at_24_00_ends_at_midnight),
        FIXED(cfg_load_resolves_files_against_the_config_directory),
        FIXED(cfg_load_of_a_missing_file_names_it),
        FIXED(policies_dir_loads_json_files_in_name_order),
        FIXED(policies_dir_errors_name_the_file),
        FIXED(policy_json_is_parsed_with_the_same_rules),
        FIXED(errors_are_appended_to_existing_ones),
        FIXED(thousands_of_errors_are_capped_with_a_count),
        FIXED(names_of_roles_and_tables),
        FIXED(field_errors_give_line_column_and_metric),
        FIXED(points_sharing_registers_legitimately_are_accepted),
        FIXED(addresses_that_look_like_register_numbers_warn),
        FIXED(the_register_number_warning_is_per_device),
        FIXED(devices_are_listed_whatever_their_protocol),
        FIXED(walk_templates_expand_and_match_alike),
        FIXED(register_counts_match_types),
    };
    size_t ncases = sizeof error_cases / sizeof error_cases[0];
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(ncases + nfixed, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < ncases; i++)
        tests[i] = (struct CMUnitTest){error_cases[i].name, run_error_case, fixture_setup,
                                       fixture_teardown, (void *)&error_cases[i]};
    memcpy(tests + ncases, fixed, sizeof fixed);
    int failed = _cmocka_run_group_tests("config", tests, ncases + nfixed, NULL, NULL);
    free(tests);
    return failed;
}
