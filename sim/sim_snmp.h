/*
 * sim_snmp — the simulated site's SNMP agent: net-snmp's agent library
 * embedded as a master agent on its own thread, serving the object map of
 * sim_snmpmap (UPS-MIB for the UPS, the simulator's enterprise subtree
 * for the rest) read-only over UDP, to SNMPv1/v2c with one community and
 * to at most one SNMPv3 user at authPriv. It answers as snmpd configured
 * with rocommunity/rouser would: a wrong community gets no answer (the
 * manager times out), a v3 request below authPriv gets authorizationError,
 * and a SET gets noAccess.
 *
 * Like the Modbus server, values change only through sim_snmp_publish(),
 * which the site calls under its lock after every simulated second and
 * every /sim/set; the agent thread copies the published map under the
 * server's own lock once per request PDU, so one answer (a GET of many
 * objects, a GETBULK of many rows) never mixes two updates.
 *
 * net-snmp keeps its state in process-wide globals: at most one agent may
 * run per process, and nothing else in the process may use net-snmp while
 * it runs. The agent reads no configuration file, stores no persistent
 * state and consults no TCP wrappers (/etc/snmp, /var/lib/snmp and
 * /etc/hosts.allow are never opened), and needs no privileges on a port
 * above 1023.
 */
#ifndef FLOE_SIM_SNMP_H
#define FLOE_SIM_SNMP_H

#include "sim/sim_model.h"

#include <stdbool.h>
#include <stddef.h>

#define SIM_SNMP_DEFAULT_COMMUNITY "public"
#define SIM_SNMP_COMMUNITY_MAX 64 /* with the NUL */
#define SIM_SNMP_USER_MAX 33      /* USM user names are at most 32 octets */
#define SIM_SNMP_PASSWORD_MIN 8   /* what USM's key derivation requires */
#define SIM_SNMP_PASSWORD_MAX 128 /* with the NUL */
#define SIM_SNMP_PROTOCOL_MAX 16

/* Who may read the agent. Secrets: never log community or passwords. */
struct sim_snmp_settings {
    int port;                                  /* UDP; 0 = any free port */
    char community[SIM_SNMP_COMMUNITY_MAX];    /* v1/v2c */
    char user[SIM_SNMP_USER_MAX];              /* v3 user; "" = no v3 */
    char auth_protocol[SIM_SNMP_PROTOCOL_MAX]; /* "MD5", "SHA", "SHA-256", "SHA-512" */
    char auth_password[SIM_SNMP_PASSWORD_MAX];
    char priv_protocol[SIM_SNMP_PROTOCOL_MAX]; /* "DES", "AES", "AES-256" */
    char priv_password[SIM_SNMP_PASSWORD_MAX];
};

/* Port 0, community "public", no v3 user, SHA and AES once one is set. */
void sim_snmp_settings_init(struct sim_snmp_settings *s);

/* Protocol names as floe's own config spells them (SPEC 2.2). */
bool sim_snmp_auth_protocol_known(const char *name);
bool sim_snmp_priv_protocol_known(const char *name);

/* Whether a user name, community or password can be handed to net-snmp:
 * printable ASCII without blanks, quotes, backslash or '#', which its
 * configuration-line parser would read as syntax. */
bool sim_snmp_token_valid(const char *s);

/* ---- the agent ---- */

struct sim_snmp;

/* Binds udp addr:settings->port (IPv4), creates the v3 user if one is
 * set, fills the map from `initial` and starts serving. Returns 0 and
 * *out, or -1 with err. settings is not kept (net-snmp holds the keys). */
int sim_snmp_start(struct sim_snmp **out, const char *addr,
                   const struct sim_snmp_settings *settings, const struct sim_model *initial,
                   char *err, size_t errlen);

/* The port actually bound. */
int sim_snmp_port(const struct sim_snmp *s);

/* Replaces the served values with the model's current ones. */
void sim_snmp_publish(struct sim_snmp *s, const struct sim_model *m);

/* Stops the thread, closes the socket, shuts net-snmp down and frees s.
 * NULL is a no-op. */
void sim_snmp_stop(struct sim_snmp *s);

#endif
