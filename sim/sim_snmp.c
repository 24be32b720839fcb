/*
 * sim_snmp — see sim_snmp.h.
 *
 * Why an embedded agent and not an AgentX subagent of a real snmpd: the
 * simulator then needs no second process, no snmpd.conf and no AgentX
 * socket, a free port (0) works like it does for Modbus and HTTP, and
 * tests get exact values without snmpd's own MIB modules in the way.
 * net-snmp's agent library does the protocol work (BER, GETBULK, USM
 * keys, engine discovery, access control, error statuses); this file
 * binds the socket, says who may read, and answers GET/GETNEXT from the
 * map.
 *
 * Two choices keep the library away from the host: everything is
 * configured in code, with config-file reading and persistence off (who
 * may read is set with the snmpd.conf directives rocommunity, createUser
 * and rouser, handed over as strings, so net-snmp's own VACM and USM
 * decide exactly as snmpd would); and the agent session is created with
 * snmp_add() rather than init_master_agent(), which would run every packet
 * through Debian's TCP wrappers (/etc/hosts.allow and hosts.deny).
 *
 * Only the agent library is linked, not libnetsnmpmibs: the simulator
 * serves its own objects, none of snmpd's (no system group either).
 *
 * Threads: the library is initialised and shut down by the caller's
 * thread, and between the two only the agent thread calls it (the thread
 * start and join order the two). Lock order: the site's lock, then (in
 * sim_snmp_publish) s->lock; the agent thread takes only s->lock.
 */
#include "sim/sim_snmp.h"

#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_snmpmap.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define APP_NAME "floe-sim"

struct sim_snmp {
    pthread_mutex_t lock;   /* guards map */
    struct sim_snmpmap map; /* the latest published values */
    /* The agent thread's copy of map for the request PDU being answered
     * (net-snmp numbers every incoming PDU with a unique transid). */
    struct sim_snmpmap serving;
    long serving_transid;
    bool serving_valid;
    int port;
    bool lib_started;
    netsnmp_session *session;
    int wake[2]; /* pipe: a byte means stop */
    pthread_t thread;
    bool thread_started;
};

/* ---- settings ------------------------------------------------------------- */

static const char *const auth_protocols[] = {"MD5", "SHA", "SHA-256", "SHA-512"};
static const char *const priv_protocols[] = {"DES", "AES", "AES-256"};

void sim_snmp_settings_init(struct sim_snmp_settings *s)
{
    memset(s, 0, sizeof *s);
    util_strlcpy(s->community, SIM_SNMP_DEFAULT_COMMUNITY, sizeof s->community);
    util_strlcpy(s->auth_protocol, "SHA", sizeof s->auth_protocol);
    util_strlcpy(s->priv_protocol, "AES", sizeof s->priv_protocol);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

bool sim_snmp_auth_protocol_known(const char *name)
{
    return in_list(name, auth_protocols, ARRAY_LEN(auth_protocols));
}

bool sim_snmp_priv_protocol_known(const char *name)
{
    return in_list(name, priv_protocols, ARRAY_LEN(priv_protocols));
}

bool sim_snmp_token_valid(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || strchr("\"'\\#", *s))
            return false;
    return true;
}

/* ---- net-snmp glue ---------------------------------------------------------- */

int sim_snmp_port(const struct sim_snmp *s)
{
    return s->port;
}

void sim_snmp_publish(struct sim_snmp *s, const struct sim_model *m)
{
    pthread_mutex_lock(&s->lock);
    sim_snmpmap_build(&s->map, m);
    pthread_mutex_unlock(&s->lock);
}

/* The library's own messages go to our log: errors (a createUser it
 * refused) as warnings, the rest at debug level, where its complaints
 * about MIB files it was told not to read belong. */
static int on_library_log(int major, int minor, void *serverarg, void *clientarg)
{
    (void)major;
    (void)minor;
    (void)clientarg;
    const struct snmp_log_message *m = serverarg;
    if (!m || !m->msg)
        return 0;
    size_t n = strlen(m->msg);
    while (n > 0 && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
        n--;
    if (m->priority <= LOG_ERR)
        log_warn("snmp: net-snmp: %.*s", (int)n, m->msg);
    else
        log_debug("snmp: net-snmp: %.*s", (int)n, m->msg);
    return 0;
}

/* Request OIDs may be up to MAX_OID_LEN arcs; BER decoding keeps every
 * arc within 32 bits. */
static size_t oid_in(const oid *name, size_t len, uint32_t *out)
{
    if (len > MAX_OID_LEN)
        len = MAX_OID_LEN;
    for (size_t i = 0; i < len; i++)
        out[i] = name[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)name[i];
    return len;
}

static void answer(netsnmp_variable_list *vb, const struct sim_snmp_object *o)
{
    switch (o->type) {
    case SIM_SNMP_INTEGER:
        snmp_set_var_typed_integer(vb, ASN_INTEGER, (long)o->value);
        break;
    case SIM_SNMP_GAUGE32:
        snmp_set_var_typed_integer(vb, ASN_GAUGE, (long)o->value);
        break;
    case SIM_SNMP_COUNTER64: {
        struct counter64 c = {.high = (u_long)((uint64_t)o->value >> 32),
                              .low = (u_long)((uint64_t)o->value & 0xffffffffu)};
        snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof c);
        break;
    }
    case SIM_SNMP_STRING:
        snmp_set_var_typed_value(vb, ASN_OCTET_STR, o->string, strlen(o->string));
        break;
    }
}

/* The handler is called once per subtree and, for GETBULK, once per
 * repetition: taking one copy per request PDU means a PDU that spans both
 * subtrees or many rows never mixes two updates. */
static const struct sim_snmpmap *serving_map(struct sim_snmp *s,
                                             const netsnmp_agent_request_info *reqinfo)
{
    const netsnmp_pdu *pdu = reqinfo->asp ? reqinfo->asp->pdu : NULL;
    if (!pdu || !s->serving_valid || pdu->transid != s->serving_transid) {
        pthread_mutex_lock(&s->lock);
        s->serving = s->map;
        pthread_mutex_unlock(&s->lock);
        s->serving_transid = pdu ? pdu->transid : 0;
        s->serving_valid = pdu != NULL;
    }
    return &s->serving;
}

/* GET and GETNEXT for one registered subtree (the agent turns GETBULK
 * into GETNEXTs, and VACM refuses SETs before we are called). A GETNEXT
 * with nothing more in this subtree is left unanswered, and the agent
 * carries on in the next one. */
static int on_request(netsnmp_mib_handler *handler, netsnmp_handler_registration *reginfo,
                      netsnmp_agent_request_info *reqinfo, netsnmp_request_info *requests)
{
    struct sim_snmp *s = handler->myvoid;
    const struct sim_snmpmap *map = serving_map(s, reqinfo);
    uint32_t root[MAX_OID_LEN], name[MAX_OID_LEN];
    size_t root_len = oid_in(reginfo->rootoid, reginfo->rootoid_len, root);
    for (netsnmp_request_info *r = requests; r; r = r->next) {
        if (r->processed)
            continue;
        netsnmp_variable_list *vb = r->requestvb;
        size_t len = oid_in(vb->name, vb->name_length, name);
        const struct sim_snmp_object *o;
        switch (reqinfo->mode) {
        case MODE_GET:
            o = sim_snmpmap_get(map, name, len);
            if (o)
                answer(vb, o);
            else
                netsnmp_set_request_error(reqinfo, r,
                                          sim_snmpmap_is_object(map, name, len)
                                              ? SNMP_NOSUCHINSTANCE
                                              : SNMP_NOSUCHOBJECT);
            break;
        case MODE_GETNEXT:
            o = sim_snmpmap_next(map, name, len, root, root_len);
            if (o) {
                oid next[SIM_SNMP_OID_MAX];
                for (size_t i = 0; i < o->oid_len; i++)
                    next[i] = o->oid[i];
                snmp_set_var_objid(vb, next, o->oid_len);
                answer(vb, o);
            }
            break;
        default:
            netsnmp_set_request_error(reqinfo, r, SNMP_ERR_GENERR);
            break;
        }
    }
    return SNMP_ERR_NOERROR;
}

static int register_subtree(struct sim_snmp *s, const char *name, const oid *root, size_t len)
{
    netsnmp_handler_registration *reg =
        netsnmp_create_handler_registration(name, on_request, root, len, HANDLER_CAN_RONLY);
    if (!reg)
        return -1;
    reg->handler->myvoid = s;
    /* On failure the registration is freed by the library. */
    return netsnmp_register_handler(reg) == MIB_REGISTERED_OK ? 0 : -1;
}

/* One snmpd.conf line, processed during init_snmp() as if read from a
 * file. The library keeps its own copy; ours is wiped (it may hold a
 * password). */
static void config_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void config_line(const char *fmt, ...)
{
    char line[SIM_SNMP_USER_MAX + 2 * SIM_SNMP_PASSWORD_MAX + 2 * SIM_SNMP_PROTOCOL_MAX + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    netsnmp_config_remember(line);
    explicit_bzero(line, sizeof line);
}

/* Library set-up: everything in code, nothing read from or written to the
 * host (same reasoning as the collector's, collectors/snmp_collector.c).
 * The tokens in the directives were checked when the scenario was read
 * (sim_snmp_token_valid), so each parses as one word. */
static void library_init(const struct sim_snmp_settings *st)
{
    /* Alarms by SIGALRM would hit a random thread of the simulator. */
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_NO_TOKEN_WARNINGS, 1);
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "");
    netsnmp_set_mib_directory("");
    /* Debian's libnetsnmp creates <persistent dir>/cert_indexes even with
     * persistence off, and looks for TLS certificates below every config
     * directory (/etc/snmp/tls, ~/.snmp/tls); below /dev/null nothing can
     * ever exist or be created. */
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR,
                          "/dev/null/floe-sim-no-snmp-state");
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_CONFIGURATION_DIR,
                          "/dev/null/floe-sim-no-snmp-config");
    /* A master agent (the default role) without an AgentX socket. */
    netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_MASTER, 0);
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_library_log, NULL);

    /* No MIB modules either: names are never printed or parsed. */
    config_line("mibs :");
    /* Any source address: the listen address already limits who can
     * reach the agent. */
    config_line("rocommunity %s default", st->community);
    if (st->user[0]) {
        config_line("createUser %s %s %s %s %s", st->user, st->auth_protocol, st->auth_password,
                    st->priv_protocol, st->priv_password);
        config_line("rouser %s priv", st->user);
    }
    init_agent(APP_NAME);
    init_snmp(APP_NAME);
}

static int open_session(struct sim_snmp *s, const char *addr, int port, char *err, size_t errlen)
{
    char spec[128];
    snprintf(spec, sizeof spec, "udp:%s:%d", addr, port);
    errno = 0;
    netsnmp_transport *t = netsnmp_transport_open_server(APP_NAME, spec);
    if (!t)
        return errf(err, errlen, "snmp: listen on udp %s:%d: %s", addr, port,
                    errno ? strerror(errno) : "cannot open the transport");
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    if (getsockname(t->sock, (struct sockaddr *)&sa, &salen) < 0) {
        int e = errno;
        t->f_close(t);
        netsnmp_transport_free(t);
        return errf(err, errlen, "snmp: getsockname: %s", strerror(e));
    }
    s->port = ntohs(sa.sin_port);
    fcntl(t->sock, F_SETFD, FD_CLOEXEC);

    netsnmp_session sess;
    snmp_sess_init(&sess);
    sess.version = SNMP_DEFAULT_VERSION; /* answer each request in its own version */
    sess.callback = handle_snmp_packet;
    sess.isAuthoritative = SNMP_SESS_AUTHORITATIVE; /* our engine ID for USM */
    s->session = snmp_add(&sess, t, NULL, NULL);
    if (!s->session)
        return errf(err, errlen, "snmp: cannot create the agent session");
    return 0;
}

/* createUser reports a bad line only in the log; the user's absence
 * afterwards is the signal. */
static int check_user(const char *user, char *err, size_t errlen)
{
    u_char engine_id[SNMP_MAXBUF_SMALL];
    size_t engine_id_len = snmpv3_get_engineID(engine_id, sizeof engine_id);
    if (!usm_get_user(engine_id, engine_id_len, (char *)user))
        return errf(err, errlen, "snmp: could not create SNMPv3 user \"%s\" (see the log)", user);
    return 0;
}

/* agent_check_and_process() with our wake pipe in the select set, so stop
 * does not wait for a packet or a timeout. */
static void *serve(void *arg)
{
    struct sim_snmp *s = arg;
    for (;;) {
        int numfds = 0, block = 0;
        fd_set readfds;
        struct timeval timeout = {LONG_MAX, 0}, *tvp = &timeout;
        FD_ZERO(&readfds);
        snmp_select_info(&numfds, &readfds, tvp, &block);
        if (block)
            tvp = NULL; /* nothing pending: wait for a packet or the wake pipe */
        FD_SET(s->wake[0], &readfds);
        if (s->wake[0] >= numfds)
            numfds = s->wake[0] + 1;
        int count = select(numfds, &readfds, NULL, NULL, tvp);
        if (count < 0) {
            if (errno == EINTR)
                continue;
            log_err("snmp: select: %s; agent stopped", strerror(errno));
            break;
        }
        if (FD_ISSET(s->wake[0], &readfds))
            break;
        if (count > 0)
            snmp_read(&readfds);
        else
            snmp_timeout();
        run_alarms();
        netsnmp_check_outstanding_agent_requests();
    }
    return NULL;
}

int sim_snmp_start(struct sim_snmp **out, const char *addr,
                   const struct sim_snmp_settings *settings, const struct sim_model *initial,
                   char *err, size_t errlen)
{
    static const oid ups_root[] = {SIM_SNMP_UPS_ROOT};
    static const oid site_root[] = {SIM_SNMP_SITE_ROOT};
    struct sim_snmp *s = calloc(1, sizeof *s);
    if (!s)
        return errf(err, errlen, "out of memory");
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    sim_snmp_publish(s, initial);
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        errf(err, errlen, "snmp: pipe: %s", strerror(errno));
        goto fail;
    }
    library_init(settings);
    s->lib_started = true;
    if (settings->user[0] && check_user(settings->user, err, errlen) < 0)
        goto fail;
    if (open_session(s, addr, settings->port, err, errlen) < 0)
        goto fail;
    if (register_subtree(s, "floe-sim-ups", ups_root, ARRAY_LEN(ups_root)) < 0 ||
        register_subtree(s, "floe-sim-site", site_root, ARRAY_LEN(site_root)) < 0) {
        errf(err, errlen, "snmp: cannot register the object map");
        goto fail;
    }
    int rc = pthread_create(&s->thread, NULL, serve, s);
    if (rc != 0) {
        errf(err, errlen, "snmp: thread: %s", strerror(rc));
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return 0;
fail:
    sim_snmp_stop(s);
    return -1;
}

void sim_snmp_stop(struct sim_snmp *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        char byte = 1;
        while (write(s->wake[1], &byte, 1) < 0 && errno == EINTR)
            ;
        pthread_join(s->thread, NULL);
    }
    if (s->lib_started) {
        if (s->session)
            snmp_close(s->session);
        snmp_shutdown(APP_NAME);
        shutdown_agent();
    }
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
