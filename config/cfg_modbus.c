/*
 * cfg_modbus — the "modbus" section (SPEC 2.1): the tables of a device and
 * of a point, and the rules that tie their keys together: transport and
 * its keys, a point's type on its table, register spans, points that read
 * part of each other's registers, and addresses that look like vendor
 * register numbers (a warning).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_sections.h"
#include "config/cfg_walk.h"

/* Enum fields are written through an int pointer by the walker. */
_Static_assert(sizeof(enum mb_table) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_order) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_transport) == sizeof(int), "enum size");

static const struct cfg_enum mb_tables[] = {
    {"holding", MB_TABLE_HOLDING},
    {"input", MB_TABLE_INPUT},
    {"coil", MB_TABLE_COIL},
    {"discrete", MB_TABLE_DISCRETE},
    {NULL, 0},
};
static const struct cfg_enum mb_types[] = {
    {"uint16", MB_TYPE_UINT16},   {"int16", MB_TYPE_INT16},
    {"uint32", MB_TYPE_UINT32},   {"int32", MB_TYPE_INT32},
    {"float32", MB_TYPE_FLOAT32}, {"uint64", MB_TYPE_UINT64},
    {"int64", MB_TYPE_INT64},     {"float64", MB_TYPE_FLOAT64},
    {"bool", MB_TYPE_BOOL},       {NULL, 0},
};
static const struct cfg_enum mb_orders[] = {
    {"ABCD", MB_ORDER_ABCD},
    {"DCBA", MB_ORDER_DCBA},
    {"BADC", MB_ORDER_BADC},
    {"CDAB", MB_ORDER_CDAB},
    {NULL, 0},
};
static const struct cfg_enum mb_transports[] = {
    {"tcp", MB_TRANSPORT_TCP},
    {"rtu", MB_TRANSPORT_RTU},
    {NULL, 0},
};
static const struct cfg_enum mb_parities[] = {{"N", 'N'}, {"E", 'E'}, {"O", 'O'}, {NULL, 0}};

unsigned cfg_mb_type_registers(enum mb_type t)
{
    switch (t) {
    case MB_TYPE_UINT32:
    case MB_TYPE_INT32:
    case MB_TYPE_FLOAT32:
        return 2;
    case MB_TYPE_UINT64:
    case MB_TYPE_INT64:
    case MB_TYPE_FLOAT64:
        return 4;
    case MB_TYPE_UINT16:
    case MB_TYPE_INT16:
    case MB_TYPE_BOOL:
        break;
    }
    return 1;
}

const char *cfg_mb_table_name(enum mb_table t)
{
    const char *name = cfg_enum_name(mb_tables, (int)t);
    return name ? name : "unknown";
}

/* ---- check hooks: rules across the keys of one object ----------------- */

/* Vendor manuals number registers from 1 with the table as the first
 * digit: holding register 40101 is protocol address 100, input register
 * 300001 is address 0. "address" takes the protocol address, so a 5-digit
 * (40001-49999) or 6-digit (400001-465536) number of the point's own table
 * is most likely a register number. Coil numbers (0xxxx) look like any
 * address, so they are left alone. Sets *address to the likely one. */
static bool looks_like_register_number(enum mb_table table, double n, long *address)
{
    long digit;
    switch (table) {
    case MB_TABLE_HOLDING:
        digit = 4;
        break;
    case MB_TABLE_INPUT:
        digit = 3;
        break;
    case MB_TABLE_DISCRETE:
        digit = 1;
        break;
    default:
        return false;
    }
    if (floor(n) != n || n < 0 || n > 1e7)
        return false;
    long v = (long)n;
    if (v > digit * 10000 && v <= digit * 10000 + 9999)
        *address = v - digit * 10000 - 1;
    else if (v > digit * 100000 && v <= digit * 100000 + 65536)
        *address = v - digit * 100000 - 1;
    else
        return false;
    return true;
}

/* Settles the point's type (bool for coils, discretes and register bits,
 * uint16 for other registers unless given) and checks that the registers
 * it spans exist. */
static void mb_point_check(struct cfg_obj *o)
{
    struct cfg_mb_point *pt = o->base;
    if (!cfg_given(o, "table"))
        return;
    /* A 6-digit number is refused as out of range: the hint says what
     * was meant. (A 5-digit one is judged with the device's other points,
     * in mb_device_check.) */
    const cJSON *address = cJSON_GetObjectItemCaseSensitive(o->json, "address");
    long likely;
    if (cJSON_IsNumber(address) && address->valuedouble > 65535 &&
        looks_like_register_number(pt->table, address->valuedouble, &likely))
        cfg_obj_warning(o, "address",
                        "%.0f looks like a register number; the protocol address of register "
                        "%.0f is %ld (\"address\" counts from 0)",
                        address->valuedouble, address->valuedouble, likely);

    if (pt->table == MB_TABLE_COIL || pt->table == MB_TABLE_DISCRETE) {
        if (cfg_present(o, "bit"))
            cfg_obj_error(o, "bit", "only holding and input registers have bits");
        if (cfg_given(o, "type") && pt->type != MB_TYPE_BOOL)
            cfg_obj_error(o, "type", "coils and discrete inputs are bool");
        pt->type = MB_TYPE_BOOL;
        return;
    }
    if (cfg_present(o, "bit")) {
        if (cfg_given(o, "type") && pt->type != MB_TYPE_BOOL)
            cfg_obj_error(o, "type", "a register bit is bool (leave \"type\" out)");
        pt->type = MB_TYPE_BOOL;
        return;
    }
    if (!cfg_present(o, "type"))
        pt->type = MB_TYPE_UINT16;
    else if (!cfg_given(o, "type"))
        return;
    if (pt->type == MB_TYPE_BOOL) {
        cfg_obj_error(o, "type", "bool on a %s register needs \"bit\" (0-15)",
                      cfg_enum_name(mb_tables, (int)pt->table));
        return;
    }
    unsigned nregs = cfg_mb_type_registers(pt->type);
    if (cfg_given(o, "address") && (long)pt->address + nregs - 1 > 65535)
        cfg_obj_error(o, "address", "a %s at %u spans %u registers and runs past 65535",
                      cfg_enum_name(mb_types, (int)pt->type), (unsigned)pt->address, nregs);
}

/* A point that reads whole registers of a table (not a coil, not a bit). */
static bool reads_registers(const struct cfg_mb_point *pt)
{
    return (pt->table == MB_TABLE_HOLDING || pt->table == MB_TABLE_INPUT) && pt->bit < 0;
}

/* "100" or "100-101": the registers a point reads, with its table. */
static void describe_span(const struct cfg_mb_point *pt, char *buf, size_t n)
{
    unsigned last = pt->address + cfg_mb_type_registers(pt->type) - 1;
    if (last == pt->address)
        snprintf(buf, n, "%s %u", cfg_mb_table_name(pt->table), (unsigned)pt->address);
    else
        snprintf(buf, n, "%s %u-%u", cfg_mb_table_name(pt->table), (unsigned)pt->address, last);
}

/* A register belongs to one value: a point that reads part of another's
 * registers (a uint16 at 101 beside a float32 at 100) means an address or
 * a type is wrong, and one of them would read garbage. Allowed are points
 * that read exactly the same registers (one value scaled two ways, or
 * decoded in two byte orders while finding the right one) and register
 * bits (status flags are packed anywhere, also in the halves of a 32-bit
 * word). Each point is reported once, against the first it overlaps. */
static void check_overlaps(struct cfg_obj *o, const struct cfg_mb_device *d)
{
    for (size_t j = 0; j < d->npoints; j++) {
        const struct cfg_mb_point *b = &d->points[j];
        if (!reads_registers(b))
            continue;
        unsigned b_last = b->address + cfg_mb_type_registers(b->type) - 1;
        for (size_t i = 0; i < j; i++) {
            const struct cfg_mb_point *a = &d->points[i];
            if (!reads_registers(a) || a->table != b->table)
                continue;
            unsigned a_last = a->address + cfg_mb_type_registers(a->type) - 1;
            bool disjoint = a_last < b->address || b_last < a->address;
            bool same = a->address == b->address && a_last == b_last;
            if (disjoint || same)
                continue;
            char path[CFG_PATH_MAX], span_a[48], span_b[48];
            cfg_path_fmt(path, "%s.points[%zu].address", o->path, j);
            describe_span(a, span_a, sizeof span_a);
            describe_span(b, span_b, sizeof span_b);
            cfg_error(o->ctx, path, "a %s at %s overlaps points[%zu] (metric %s), a %s at %s",
                      cfg_enum_name(mb_types, (int)b->type), span_b, i, a->metric,
                      cfg_enum_name(mb_types, (int)a->type), span_a);
            break;
        }
    }
}

/* One warning per device, and only when every register address of it
 * looks like a register number of its table: a device whose manual counts
 * from 40001 then has all its points there, while a map that really sits
 * at protocol address 40000 and up (SunSpec) would be broken by the
 * "fix", so the warning says when it applies. */
static void warn_register_numbers(struct cfg_obj *o, const struct cfg_mb_device *d)
{
    size_t nregs = 0, nlike = 0, first = 0;
    long first_likely = 0;
    for (size_t i = 0; i < d->npoints; i++) {
        const struct cfg_mb_point *pt = &d->points[i];
        if (pt->table == MB_TABLE_COIL)
            continue;
        nregs++;
        long likely;
        if (looks_like_register_number(pt->table, pt->address, &likely)) {
            if (nlike++ == 0) {
                first = i;
                first_likely = likely;
            }
        }
    }
    if (nregs == 0 || nlike != nregs)
        return;
    char path[CFG_PATH_MAX];
    cfg_path_fmt(path, "%s.points[%zu].address", o->path, first);
    char all[64] = "";
    if (nregs > 1)
        snprintf(all, sizeof all, ", as do all %zu addresses of this device", nregs);
    int table_digit = d->points[first].address / 10000;
    cfg_warning(o->ctx, path,
                "%d looks like a register number%s: if the manual numbers registers from "
                "%d0001, the protocol address of register %d is %ld (\"address\" counts from 0); "
                "a map that starts at protocol address %d0000 (SunSpec) is right as it is",
                d->points[first].address, all, table_digit, d->points[first].address,
                first_likely, table_digit);
}

static void mb_device_check(struct cfg_obj *o)
{
    static const char *const rtu_only[] = {"device", "baud", "parity", "data_bits", "stop_bits"};
    static const char *const tcp_only[] = {"host", "port"};
    struct cfg_mb_device *d = o->base;

    if (cfg_settled(o, "transport")) {
        bool tcp = d->transport == MB_TRANSPORT_TCP;
        const char *const *other = tcp ? rtu_only : tcp_only;
        size_t nother = tcp ? ARRAY_LEN(rtu_only) : ARRAY_LEN(tcp_only);
        for (size_t i = 0; i < nother; i++)
            if (cfg_present(o, other[i]))
                cfg_obj_error(o, other[i], "only for transport \"%s\"", tcp ? "rtu" : "tcp");
        if (tcp && !cfg_present(o, "host"))
            cfg_obj_error(o, "host", "missing required key (transport \"tcp\" needs a host)");
        if (!tcp && !cfg_present(o, "device"))
            cfg_obj_error(o, "device",
                          "missing required key (transport \"rtu\" needs a serial device)");
        /* 0 and 255 address a TCP gateway itself; on a serial line 0 is
         * broadcast (no replies) and 248..255 are reserved. */
        if (cfg_given(o, "unit_id") && tcp && d->unit_id > 247 && d->unit_id != 255)
            cfg_obj_error(o, "unit_id", "must be between 0 and 247, or 255");
        if (cfg_given(o, "unit_id") && !tcp && (d->unit_id < 1 || d->unit_id > 247))
            cfg_obj_error(o, "unit_id", "must be between 1 and 247 on a serial line");
    }

    if (!cfg_given(o, "points"))
        return;
    if (cfg_obj_clean(o)) {
        check_overlaps(o, d);
        warn_register_numbers(o, d);
    }
    if (!cfg_settled(o, "max_registers"))
        return;
    for (size_t i = 0; i < d->npoints; i++) {
        const struct cfg_mb_point *pt = &d->points[i];
        unsigned nregs = cfg_mb_type_registers(pt->type);
        if (pt->table != MB_TABLE_COIL && pt->table != MB_TABLE_DISCRETE &&
            nregs > (unsigned)d->max_registers) {
            char path[CFG_PATH_MAX];
            cfg_path_fmt(path, "%s.points[%zu].type", o->path, i);
            cfg_error(o->ctx, path,
                      "a %s needs %u registers in one request but max_registers is %d",
                      cfg_enum_name(mb_types, (int)pt->type), nregs, d->max_registers);
        }
    }
}

/* ---- the tables -------------------------------------------------------- */

/* The tables read best as tables: keep the formatter out of them. */
// clang-format off
#define T struct cfg_mb_point
static const struct cfg_key mb_point_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ, .check = cfg_check_metric),
    KEY("table", K_ENUM, table, .flags = REQ, .names = mb_tables),
    KEY("address", K_U16, address, .flags = REQ, .min = 0, .max = 65535),
    KEY("type", K_ENUM, type, .names = mb_types), /* default set by mb_point_check */
    KEY("order", K_ENUM, order, .def = "ABCD", .names = mb_orders),
    KEY("bit", K_INT, bit, .def = "-1", .min = 0, .max = 15),
    KEY("scale", K_NUM, scale, .def = "1"),
    KEY("offset", K_NUM, offset, .def = "0"),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
static const struct cfg_table mb_point_table = TABLE(mb_point_keys, mb_point_check, .label = "metric");

#define T struct cfg_mb_device
static const struct cfg_key mb_device_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
    KEY("transport", K_ENUM, transport, .def = "tcp", .names = mb_transports),
    KEY("host", K_STR, host, .check = cfg_check_host),
    KEY("port", K_INT, port, .def = "502", .min = 1, .max = 65535),
    KEY("device", K_STR, device),
    KEY("baud", K_INT, baud, .def = "9600", .min = 50, .max = 4000000),
    KEY("parity", K_ENUM, parity, .flags = CHAR_FIELD, .def = "N", .names = mb_parities),
    KEY("data_bits", K_INT, data_bits, .def = "8", .min = 5, .max = 8),
    KEY("stop_bits", K_INT, stop_bits, .def = "1", .min = 1, .max = 2),
    KEY("unit_id", K_INT, unit_id, .def = "1", .min = 0, .max = 255),
    KEY("interval", K_DUR, interval_ms, .def = "5s", .min = 1),
    KEY("timeout", K_DUR, timeout_ms, .def = "1s", .min = 1),
    KEY("retries", K_INT, retries, .def = "1", .min = 0, .max = 10),
    KEY("max_registers", K_INT, max_registers, .def = "125", .min = 1, .max = 125),
    KEY("max_gap", K_INT, max_gap, .def = "8", .min = 0, .max = 2000),
    KEY("pause_after_connect", K_DUR, pause_after_connect_ms, .def = "0s"),
    KEY("pause_between_requests", K_DUR, pause_between_requests_ms, .def = "0s"),
    KEY("close_after_poll", K_BOOL, close_after_poll, .def = "false"),
    KEY("one_request_per_point", K_BOOL, one_request_per_point, .def = "false"),
    KEY("busy_retries", K_INT, busy_retries, .def = "0", .min = 0, .max = 100),
    KEY("busy_retry_wait", K_DUR, busy_retry_wait_ms, .def = "500ms"),
    ARRAY("points", points, struct cfg_mb_point, npoints, mb_point_table, .flags = REQ),
};
#undef T
const struct cfg_table cfg_mb_device_table = TABLE(mb_device_keys, mb_device_check);
// clang-format on

void cfg_mb_describe(const void *device, struct cfg_device *out)
{
    const struct cfg_mb_device *d = device;
    cfg_device_begin(out, d->name, d->interval_ms, d->timeout_ms, d, d->npoints);
    for (size_t i = 0; i < d->npoints; i++)
        out->metrics[i] = (struct cfg_device_metric){.name = d->points[i].metric,
                                                     .unit = d->points[i].unit};
}
