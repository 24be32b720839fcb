/*
 * snmp_value — what an SNMP varbind becomes in floe: a number for a metric
 * and, for rows of a walked table, the metric's name.
 *
 * Pure functions over bytes and OID arrays: no sockets, no clock, no
 * net-snmp session. The SNMP collector (snmp_collector.c) feeds them the
 * varbinds net-snmp decoded; the unit tests and the fuzz target feed them
 * anything.
 *
 * Numbers: INTEGER, Gauge32/Unsigned32, Counter32, TimeTicks (raw
 * hundredths of a second), Counter64, net-snmp's Opaque Float/Double/
 * Counter64/I64/U64, and OCTET STRINGs that hold a plain decimal number
 * ("23.5", " -4 ", "1e3"). A double holds every integer up to 2^53 exactly;
 * Counter64 (and Opaque U64/I64) values beyond that are rounded to the
 * nearest double (relative error below 1.2e-16), which no facility reading
 * comes near. Everything else — noSuchObject, noSuchInstance, endOfMibView,
 * IpAddress, OIDs, text that is not a number — gives a reason instead.
 */
#ifndef FLOE_SNMP_VALUE_H
#define FLOE_SNMP_VALUE_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/types.h>

#include <stddef.h>

/* The longest OCTET STRING accepted as a number (after trimming). */
#define SNMP_VALUE_MAX_NUMERIC_STRING 64

/* Converts one varbind value to a double. `type` is the ASN.1 tag as net-snmp
 * reports it (netsnmp_variable_list.type); `val`/`len` are the value as
 * net-snmp stores it (val.string / val_len): a `long` for the INTEGER
 * family, a `struct counter64` for Counter64 and Opaque 64-bit types, a
 * float or double for Opaque Float/Double, the bytes for OCTET STRING.
 * Returns 0 with *out set, or -1 with a short human reason in `reason`
 * ("noSuchInstance", "OCTET STRING \"n/a\" is not a number"). */
int snmp_value_to_double(unsigned char type, const void *val, size_t len, double *out, char *reason,
                         size_t reasonlen);

/* The name of an ASN.1 / SNMP type tag for messages ("Counter64"). Never NULL. */
const char *snmp_value_type_name(unsigned char type);

/* Parses a numeric dotted OID ("1.3.6.1.2.1.1.3.0", a leading '.' allowed)
 * into out[0..*out_len). At least two sub-identifiers, each 0..4294967295,
 * at most `max` of them. Returns 0, or -1 with a reason in err. */
int snmp_value_parse_oid(const char *text, oid *out, size_t max, size_t *out_len, char *err,
                         size_t errlen);

/* Formats an OID as dotted decimal ("1.3.6.1"), truncating with "..." when
 * buf is too small. */
void snmp_value_format_oid(const oid *name, size_t len, char *buf, size_t buflen);

/* The metric name of a walked row. `row` must lie strictly below `root`;
 * its suffix below the root is the row's index, written with '_' between
 * sub-identifiers ("1" or "1_2") so that it stays inside one metric
 * segment; the name is cfg_metric_template_expand(tmpl, index). Returns 0,
 * or -1 with a reason in err when the row is not below the root, tmpl has
 * no "{index}" (the config refuses such walks) or the result is not a
 * valid metric name. */
int snmp_value_walk_metric(const char *tmpl, const oid *root, size_t root_len, const oid *row,
                           size_t row_len, char *out, size_t outlen, char *err, size_t errlen);

#endif
