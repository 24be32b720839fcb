/*
 * sim_snmpmap — the SNMP object map of a simulated site: which OID serves
 * which model value, with which SNMP type and scale.
 *
 * Two subtrees: the UPS in the standard UPS-MIB (RFC 1628,
 * 1.3.6.1.2.1.33.1), and the rest of the site (cooling units, IT load,
 * supply, room) in the simulator's own enterprise subtree
 * 1.3.6.1.4.1.99999.1. sim/README.md ("SNMP map") documents both for
 * people; the two change together and floeSimMapVersion says which one a
 * manager is talking to.
 *
 * Pure data, no sockets and no net-snmp: sim_snmpmap_build() turns a model
 * into a sorted list of objects (what a walk of the agent returns, in
 * order), and the lookups answer GET and GETNEXT over that list. The
 * agent (sim_snmp.c) only copies the answers into varbinds.
 */
#ifndef FLOE_SIM_SNMPMAP_H
#define FLOE_SIM_SNMPMAP_H

#include "sim/sim_model.h"

#include <stddef.h>
#include <stdint.h>

#define SIM_SNMPMAP_VERSION 1

#define SIM_SNMP_OID_MAX 16    /* arcs of the longest OID in the map (13) and room */
#define SIM_SNMP_STRING_MAX 64 /* DisplayString values: site and unit names */
/* Per unit 9 columns, at most SIM_MAX_UNITS units, plus about 40 scalars
 * and UPS line entries. */
#define SIM_SNMPMAP_MAX 256

/* The UPS's load is spread over this many output (and input) lines,
 * as on the three-phase UPSes that carry datacenter loads. */
#define SIM_SNMP_UPS_LINES 3

/* Roots of the two subtrees, one registration each in the agent. */
#define SIM_SNMP_UPS_ROOT 1, 3, 6, 1, 2, 1, 33
#define SIM_SNMP_UPS_ROOT_LEN 7
#define SIM_SNMP_SITE_ROOT 1, 3, 6, 1, 4, 1, 99999
#define SIM_SNMP_SITE_ROOT_LEN 7

/* UPS-MIB enumerations. */
#define SIM_SNMP_BATTERY_NORMAL 2
#define SIM_SNMP_BATTERY_LOW 3
#define SIM_SNMP_BATTERY_DEPLETED 4
#define SIM_SNMP_OUTPUT_NORMAL 3
#define SIM_SNMP_OUTPUT_BATTERY 5
/* SNMPv2-TC TruthValue. */
#define SIM_SNMP_TRUE 1
#define SIM_SNMP_FALSE 2

enum sim_snmp_type {
    SIM_SNMP_INTEGER,   /* INTEGER / Integer32, signed 32 bits */
    SIM_SNMP_GAUGE32,   /* unsigned 32 bits */
    SIM_SNMP_COUNTER64, /* unsigned 64 bits (value kept below 2^63) */
    SIM_SNMP_STRING,    /* OCTET STRING (DisplayString) */
};

struct sim_snmp_object {
    uint32_t oid[SIM_SNMP_OID_MAX];
    size_t oid_len;
    /* Length of the object's own OID within oid: without ".0" for a
     * scalar, without the row index for a table column. A GET below an
     * object that has no such instance is noSuchInstance, elsewhere
     * noSuchObject. */
    size_t object_len;
    enum sim_snmp_type type;
    int64_t value;                    /* numeric types, already scaled and clamped */
    char string[SIM_SNMP_STRING_MAX]; /* SIM_SNMP_STRING */
};

struct sim_snmpmap {
    struct sim_snmp_object objects[SIM_SNMPMAP_MAX];
    size_t count; /* sorted by OID, no duplicates */
};

/* Fills map with every object of the model, in OID order. */
void sim_snmpmap_build(struct sim_snmpmap *map, const struct sim_model *m);

/* Orders OIDs as SNMP does: arc by arc, a prefix before its extensions.
 * Returns <0, 0 or >0. */
int sim_snmp_oid_compare(const uint32_t *a, size_t alen, const uint32_t *b, size_t blen);

/* GET: the object with exactly this OID, or NULL. */
const struct sim_snmp_object *sim_snmpmap_get(const struct sim_snmpmap *map, const uint32_t *oid,
                                              size_t len);

/* GETNEXT: the first object after oid that lies below root (root_len arcs
 * of root), or NULL when the subtree has nothing more. oid may lie before
 * the subtree (a walk arriving from a lower OID). */
const struct sim_snmp_object *sim_snmpmap_next(const struct sim_snmpmap *map, const uint32_t *oid,
                                               size_t len, const uint32_t *root, size_t root_len);

/* Whether oid names an instance of an object the map has (a scalar's or
 * column's OID followed by anything): tells noSuchInstance from
 * noSuchObject after a failed GET. */
bool sim_snmpmap_is_object(const struct sim_snmpmap *map, const uint32_t *oid, size_t len);

#endif
