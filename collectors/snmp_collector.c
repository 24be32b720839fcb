/*
 * snmp_collector — polls one SNMP agent (v1, v2c, v3/USM) for the points of
 * one configured device; provides snmp_collector_ops (collector.h).
 *
 * Per poll: every `oid` point goes out in as few GET PDUs as the agent
 * takes (60 varbinds each; on tooBig the batch size is halved and the
 * smaller size kept for the device), then each `walk` point is read with
 * GETBULK (v2c/v3) or GETNEXT (v1). A table's first walk asks for 25 rows
 * at a time; later walks know its size and ask for all of it plus one row
 * (to see its end) in as few requests of at most 128 as it takes, evenly
 * split: a 60-row table is one round trip, not three, and the agent does
 * not read 25 rows past the end. tooBig halves that limit for the device;
 * an agent that returns fewer rows than asked (RFC 3416 lets it: net-snmp's
 * snmpd stops at 100 varbinds) lowers it for that table to what it
 * returned (an agent may cut replies to its message size, which depends
 * on the table's OIDs and values). When seeing
 * the end would take a request of its own (a table of 100 rows from an
 * agent that returns 100 at most), a walk that reads the same number of
 * rows ending at the same last row as before stops there, and looks past
 * the last row only every `walk_growth_check` (60 s): rows that go away
 * or appear between others change the walk at once, rows appended after
 * the last one appear within that time. A poll's wake-up and round trip
 * are most of its CPU, so this halves the cost of such a table.
 * Varbinds become numbers through snmp_value.c; a point the agent cannot
 * give (noSuchObject, a string that is no number, ...) is reported through
 * sink->bad and the rest of the device stays good. A device that does not
 * answer or rejects our credentials makes poll() return -1 with a message
 * that says which, and its session is reopened on the next poll.
 *
 * Messages. SNMPv1 and v2c requests and responses are our own BER
 * (snmp_ber.c) over a UDP socket of the device's (snmp_udp.c): net-snmp's
 * decoder allocated and zeroed 1.2 KB per varbind and 64 KiB per reply,
 * under the lock below, a third of a 100-row walk's CPU (issue 11). SNMPv3
 * goes through net-snmp, for USM; its answers are seen through the same
 * struct snmp_answer, so everything after the request is shared.
 *
 * Threads. The agent polls each device from its own thread. Debian builds
 * net-snmp without --enable-reentrant, and even the single-session API
 * shares process-wide tables (the USM user list, engine boot/time cache,
 * request ids). So every net-snmp call here runs under one process-wide
 * mutex, and the mutex is never held while waiting for the network: we send
 * with snmp_sess_async_send and wait in poll(2) on the session's socket
 * ourselves. The SNMPv3 engine-ID discovery that snmp_sess_open would do
 * synchronously (under the lock) is done the same asynchronous way. A dead
 * agent therefore holds up only its own thread; other devices contend only
 * for the microseconds of encoding and decoding a PDU. (v1/v2c devices
 * take no lock at all.)
 *
 * SNMPv3 keys. net-snmp keeps one key set per (agent engine ID, user) for
 * the whole process and looks it up for every message. Devices that reach
 * the same agent as the same user therefore share it: a "claim" list here
 * records which credentials own each entry. Equal credentials share it;
 * different ones (one of the configs is wrong) get a clear error instead of
 * overwriting each other's keys, and the entry goes when its last device
 * closes or fails, so a corrected password takes effect (config reload).
 * Which device claims first is a race between poll threads, so a claim
 * whose keys the agent has not yet accepted does not win it: a device with
 * other credentials waits (within its poll budget) until the agent has
 * answered the holder — then the holder's keys are proven and the newcomer
 * is the wrong one — or the holder has failed and let go.
 *
 * Secrets: v3 passwords are turned into keys (Ku) at open and zeroed at
 * close; neither they nor communities ever appear in messages or logs.
 */
#include "collectors/collector.h"
#include "collectors/snmp_ber.h"
#include "collectors/snmp_udp.h"
#include "collectors/snmp_value.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"

#include <stdatomic.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/keytools.h>
#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmpusm.h>
#include <net-snmp/library/transform_oids.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Varbinds per GET PDU before the agent has told us anything: small enough
 * for most agents' PDU limits, large enough that a typical UPS or PDU is one
 * or two requests. */
#define SNMP_COLL_MAX_VARBINDS 60
#define SNMP_COLL_BULK_REPETITIONS 25
/* Most repetitions per GETBULK once a table's size is known: a few KB of
 * response; an agent that cannot send that many returns fewer (RFC 3416
 * 4.2.3) or tooBig, and asks get smaller for that device. */
#define SNMP_COLL_BULK_MAX_REPETITIONS 128
/* A walk that returns more rows than this is a loop or the wrong subtree. */
#define SNMP_COLL_WALK_MAX_ROWS 10000
/* How often a wait wakes up to look at the stop flag. */
#define SNMP_COLL_STOP_CHECK_MS 100
/* Time a poll may take beyond its request timeouts (encoding, scheduling). */
#define SNMP_COLL_SLACK_MS 250
/* Our own codes beside net-snmp's SNMPERR_* (which are 0 .. -69). */
#define SNMP_COLL_ERR_STOPPED (-1001)
#define SNMP_COLL_ERR_DEADLINE (-1002)
#define SNMP_COLL_ERR_USER_CONFLICT (-1003)
#define SNMP_COLL_ERR_TRANSPORT (-1004) /* v1/v2c: st->transport_why says what */
/* RFC 3411 SnmpEngineID: 5 to 32 octets. */
#define SNMP_COLL_ENGINE_ID_MAX 32

/* Who put an entry into net-snmp's USM user table (see the top of the
 * file). Lives in the list below while `devices` > 0. */
struct snmp_usm_claim {
    struct snmp_usm_claim *next;
    u_char engine_id[SNMP_COLL_ENGINE_ID_MAX];
    size_t engine_id_len;
    char *user;
    enum snmp_level level;
    const oid *auth_proto, *priv_proto;
    u_char auth_ku[USM_AUTH_KU_LEN];
    size_t auth_ku_len;
    u_char priv_ku[USM_PRIV_KU_LEN];
    size_t priv_ku_len;
    int devices;
    bool verified; /* the agent answered an authenticated request with these keys */
};

/* net-snmp's process-wide state and our bookkeeping of it (see the top of
 * the file); the list is only touched under the lock. */
static pthread_once_t snmp_coll_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t snmp_coll_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled when a claim is verified or loses a device; set up on the
 * monotonic clock in snmp_coll_lib_init. */
static pthread_cond_t snmp_coll_claim_changed;
static struct snmp_usm_claim *snmp_coll_claims;

struct snmp_get_point {
    const struct cfg_snmp_point *cfg;
    oid name[MAX_OID_LEN];
    size_t name_len;
};

/* One row of a walked table: its metric and its OID below the column. */
struct snmp_walk_row {
    char *metric;
    oid *index;
    size_t index_len;
};

struct snmp_walk_point {
    const struct cfg_snmp_point *cfg;
    oid root[MAX_OID_LEN];
    size_t root_len;
    /* The rows of the last successful walk: their metrics are reported
     * bad when a walk fails (the template itself is no metric), and a row
     * that comes back at the same place keeps its name. */
    struct snmp_walk_row *rows;
    size_t nrows;
    bool walked;            /* a walk succeeded: nrows is the table's size */
    oid last[MAX_OID_LEN];  /* the OID of its last row (root when empty) */
    size_t last_len;
    int64_t end_seen_ms;    /* monotonic time a walk last saw the table end */
    long reply_max;         /* most rows the agent has put in one reply of this
                               walk (it may cut replies to its message size) */
};

/* The answer to the one request a device has outstanding. */
struct snmp_wait {
    int reqid;
    bool done;
    int snmp_err;          /* SNMPERR_* when no response PDU came */
    netsnmp_pdu *response; /* a clone; freed by the waiter */
};

struct snmp_state {
    const struct cfg_snmp_device *cfg;
    u_char auth_ku[USM_AUTH_KU_LEN];
    size_t auth_ku_len;
    u_char priv_ku[USM_PRIV_KU_LEN];
    size_t priv_ku_len;
    oid *auth_proto, *priv_proto;
    size_t auth_proto_len, priv_proto_len;
    char peer[INET6_ADDRSTRLEN + 16]; /* numeric, for messages */

    void *sess;                   /* v3: NULL until the first poll and after a failure */
    struct snmp_udp *udp;         /* v1/v2c: the same */
    char transport_why[240];      /* v1/v2c: what came instead of an answer */
    netsnmp_pdu *v3_response;     /* v3: the last answer; its varbinds are in `vbs` */
    struct snmp_ber_varbind *vbs; /* v3: the last answer's varbinds, as v1/v2c's are */
    size_t vbcap;
    bool engine_answered;         /* v3: the agent answered discovery on this session */
    bool got_response;            /* a request of this session has been answered */
    struct snmp_usm_claim *claim; /* v3: our share of the USM entry, NULL if none */
    size_t get_batch;             /* varbinds per GET; halved on tooBig */
    long bulk_repetitions;        /* most max-repetitions per GETBULK; halved on tooBig */
    int64_t deadline_ms;          /* monotonic end of the current poll */
    struct snmp_wait wait;

    struct snmp_get_point *gets;
    size_t ngets;
    size_t *queue; /* GET points still to read in this poll */
    const oid **names; /* the OIDs of one GET, and their lengths */
    size_t *name_lens;
    struct snmp_walk_point *walks;
    size_t nwalks;
};

/* ---- library set-up ---------------------------------------------------- */

/* net-snmp's own log lines (mostly parse warnings) go to our debug log. */
static int snmp_coll_lib_log(int major, int minor, void *serverarg, void *clientarg)
{
    const struct snmp_log_message *m = serverarg;
    if (m && m->msg) {
        size_t n = strlen(m->msg);
        while (n > 0 && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
            n--;
        log_debug("net-snmp: %.*s", (int)n, m->msg);
    }
    return 0;
}

static void snmp_coll_lib_init(void)
{
    /* floe configures everything itself: no snmp.conf, no MIB files, and no
     * persistent state (the agent runs under ProtectSystem=strict, where
     * /var/lib/snmp is read-only). */
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_NO_TOKEN_WARNINGS, 1);
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "");
    netsnmp_set_mib_directory("");
    /* Debian's libnetsnmp creates <persistent dir>/cert_indexes at start-up
     * even with persistence off. A directory below /dev/null can never be
     * created, by root or anyone, so nothing is written anywhere (the
     * failure is only a debug line) and /var/lib/snmp is never touched. */
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR,
                          "/dev/null/floe-no-snmp-state");
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, snmp_coll_lib_log, NULL);
    init_snmp("floe");

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&snmp_coll_claim_changed, &ca);
    pthread_condattr_destroy(&ca);
}

/* ---- small helpers ------------------------------------------------------- */

/* net-snmp's text for an error code; copied out under the lock because the
 * library formats unknown codes into a static buffer. */
static void snmp_coll_api_error(int code, char *buf, size_t n)
{
    pthread_mutex_lock(&snmp_coll_lock);
    snprintf(buf, n, "%s", snmp_api_errstring(code));
    pthread_mutex_unlock(&snmp_coll_lock);
}

static void snmp_coll_pdu_free(netsnmp_pdu *pdu)
{
    if (!pdu)
        return;
    pthread_mutex_lock(&snmp_coll_lock);
    snmp_free_pdu(pdu);
    pthread_mutex_unlock(&snmp_coll_lock);
}

/* How long one poll may take: its interval, but never less than one
 * request's full timeout and retries, so a dead agent fails after exactly
 * timeout x tries. */
static int64_t snmp_coll_budget_ms(const struct cfg_snmp_device *d)
{
    int64_t budget = d->timeout_ms * (d->retries + 1) + SNMP_COLL_SLACK_MS;
    return d->interval_ms > budget ? d->interval_ms : budget;
}

/* ---- messages ------------------------------------------------------------ */

static const char *snmp_coll_level_name(enum snmp_level level)
{
    switch (level) {
    case SNMP_AUTH_PRIV:
        return "authPriv";
    case SNMP_AUTH_NOPRIV:
        return "authNoPriv";
    default:
        return "noAuthNoPriv";
    }
}

/* Turns a net-snmp error code into the message an operator can act on. */
static int snmp_coll_fail(const struct snmp_state *st, int code, char *err, size_t errlen)
{
    const struct cfg_snmp_device *d = st->cfg;
    switch (code) {
    case SNMPERR_TIMEOUT:
        if (d->version != SNMP_V3)
            return errf(err, errlen,
                        "snmp: no response from %s within %lld ms x %d tries "
                        "(agent down, or wrong community?)%s%s",
                        st->peer, (long long)d->timeout_ms, d->retries + 1,
                        st->transport_why[0] ? "; " : "", st->transport_why);
        /* The agent knows us (discovery worked) but never answers what we
         * encrypt: it cannot decrypt it, and USM sends no Report for that. */
        if (st->engine_answered && !st->got_response && d->level == SNMP_AUTH_PRIV)
            return errf(err, errlen,
                        "snmp: %s answered discovery but not the encrypted request "
                        "(wrong priv password or priv protocol?)",
                        st->peer);
        return errf(err, errlen,
                    "snmp: no response from %s within %lld ms x %d tries "
                    "(agent down or unreachable?)",
                    st->peer, (long long)d->timeout_ms, d->retries + 1);
    case SNMPERR_AUTHENTICATION_FAILURE:
    case SNMPERR_USM_AUTHENTICATIONFAILURE:
        return errf(err, errlen,
                    "snmp: authentication failure (wrong auth password or auth protocol?)");
    case SNMPERR_UNKNOWN_USER_NAME:
    case SNMPERR_USM_UNKNOWNSECURITYNAME:
        return errf(err, errlen, "snmp: unknown user name \"%s\" (not configured on the agent?)",
                    d->user ? d->user : "");
    case SNMPERR_UNSUPPORTED_SEC_LEVEL:
    case SNMPERR_USM_UNSUPPORTEDSECURITYLEVEL:
        return errf(err, errlen,
                    "snmp: unsupported security level: the agent does not allow user \"%s\" "
                    "at %s",
                    d->user ? d->user : "", snmp_coll_level_name(d->level));
    case SNMPERR_DECRYPTION_ERR:
    case SNMPERR_USM_DECRYPTIONERROR:
        return errf(err, errlen, "snmp: decryption error (wrong priv password or priv protocol?)");
    case SNMPERR_NOT_IN_TIME_WINDOW:
    case SNMPERR_USM_NOTINTIMEWINDOW:
        return errf(err, errlen, "snmp: not in time window (agent restarted or its clock jumped)");
    case SNMPERR_UNKNOWN_ENG_ID:
    case SNMPERR_USM_UNKNOWNENGINEID:
        return errf(err, errlen, "snmp: unknown engine ID (agent replaced or re-keyed?)");
    case SNMP_COLL_ERR_USER_CONFLICT:
        return errf(err, errlen,
                    "snmp: another device polls user \"%s\" of this agent with other "
                    "credentials (one of the two configs is wrong)",
                    d->user ? d->user : "");
    case SNMP_COLL_ERR_STOPPED:
        return errf(err, errlen, "snmp: poll stopped (shutting down)");
    case SNMP_COLL_ERR_TRANSPORT:
        return errf(err, errlen, "snmp: %s: %s", st->peer, st->transport_why);
    case SNMP_COLL_ERR_DEADLINE:
        return errf(err, errlen,
                    "snmp: %s: poll exceeded its %lld ms budget (agent too slow for this many "
                    "points?)",
                    st->peer, (long long)snmp_coll_budget_ms(d));
    default: {
        char text[128];
        snmp_coll_api_error(code, text, sizeof text);
        return errf(err, errlen, "snmp: %s: %s", st->peer, text);
    }
    }
}

/* ---- requests ---------------------------------------------------------- */

/* Called by net-snmp (under our lock, from snmp_sess_read2/_timeout) with the
 * outcome of a request. */
static int snmp_coll_on_response(int op, netsnmp_session *session, int reqid, netsnmp_pdu *pdu,
                                 void *magic)
{
    struct snmp_wait *w = magic;
    /* A Report answers our message (net-snmp matched its msgID) but may
     * carry no request ID: an agent that cannot authenticate or decrypt a
     * request never saw the ID inside it. */
    bool report =
        op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu && pdu->command == SNMP_MSG_REPORT;
    if ((reqid != w->reqid && !report) || w->done)
        return 1;
    switch (op) {
    case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
        if (pdu && pdu->command == SNMP_MSG_REPORT) {
            w->snmp_err = snmpv3_get_report_type(pdu);
            /* net-snmp resends by itself with the corrected engine time. */
            if (w->snmp_err == SNMPERR_NOT_IN_TIME_WINDOW)
                return 1;
        } else if (pdu && pdu->command == SNMP_MSG_RESPONSE) {
            /* The varbinds move to our copy of the PDU instead of being
             * copied one by one (a walk page is 25 of them, 1.2 KB each):
             * net-snmp frees its PDU when we return and reads nothing of a
             * response's varbinds after its callback. */
            netsnmp_variable_list *vars = pdu->variables;
            pdu->variables = NULL;
            w->response = snmp_clone_pdu(pdu);
            if (w->response)
                w->response->variables = vars;
            else
                pdu->variables = vars;
            w->snmp_err = w->response ? SNMPERR_SUCCESS : SNMPERR_MALLOC;
        } else {
            w->snmp_err = SNMPERR_PROTOCOL;
        }
        break;
    case NETSNMP_CALLBACK_OP_TIMED_OUT:
        w->snmp_err = SNMPERR_TIMEOUT;
        break;
    case NETSNMP_CALLBACK_OP_RESEND:
    case NETSNMP_CALLBACK_OP_CONNECT:
        return 1;
    case NETSNMP_CALLBACK_OP_SEC_ERROR:
        w->snmp_err = session && session->s_snmp_errno ? session->s_snmp_errno
                                                       : SNMPERR_AUTHENTICATION_FAILURE;
        break;
    default:
        w->snmp_err = session && session->s_snmp_errno ? session->s_snmp_errno : SNMPERR_GENERR;
        break;
    }
    w->done = true;
    return 1;
}

/* Waits until the outstanding request is answered or given up on, driving
 * net-snmp's retransmissions. Returns 0, or an SNMPERR_* code when the poll
 * ran out of time or was stopped. */
static int snmp_coll_wait(struct snmp_state *st, atomic_int *stop)
{
    netsnmp_large_fd_set fds;
    netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
    int rc = 0;
    while (!st->wait.done) {
        if (stop && *stop) {
            rc = SNMP_COLL_ERR_STOPPED;
            break;
        }
        int64_t left = st->deadline_ms - util_mono_ms();
        if (left <= 0) {
            rc = SNMP_COLL_ERR_DEADLINE;
            break;
        }
        int numfds = 0, block = 1, sock = -1;
        struct timeval tv = {0, 0};
        pthread_mutex_lock(&snmp_coll_lock);
        NETSNMP_LARGE_FD_ZERO(&fds);
        snmp_sess_select_info2(st->sess, &numfds, &fds, &tv, &block);
        netsnmp_transport *t = snmp_sess_transport(st->sess);
        if (t)
            sock = t->sock;
        pthread_mutex_unlock(&snmp_coll_lock);

        int64_t wait_ms = SNMP_COLL_STOP_CHECK_MS;
        if (!block) {
            int64_t lib_ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
            if (lib_ms < wait_ms)
                wait_ms = lib_ms;
        }
        if (left < wait_ms)
            wait_ms = left;
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        int n = poll(&pfd, sock >= 0 ? 1 : 0, (int)wait_ms);

        pthread_mutex_lock(&snmp_coll_lock);
        if (n > 0)
            snmp_sess_read2(st->sess, &fds);
        else
            snmp_sess_timeout(st->sess); /* resends or times out only what is due */
        pthread_mutex_unlock(&snmp_coll_lock);
    }
    netsnmp_large_fd_set_cleanup(&fds);
    return rc;
}

/* Sends pdu (always consumed) and waits for the answer. Returns 0 with
 * *response set (caller frees with snmp_free_pdu), or an SNMPERR_* code. */
static int snmp_coll_exchange(struct snmp_state *st, netsnmp_pdu *pdu, netsnmp_pdu **response,
                              atomic_int *stop)
{
    *response = NULL;
    memset(&st->wait, 0, sizeof st->wait);
    pthread_mutex_lock(&snmp_coll_lock);
    int reqid = snmp_sess_async_send(st->sess, pdu, snmp_coll_on_response, &st->wait);
    int send_err = 0;
    if (reqid == 0) {
        netsnmp_session *s = snmp_sess_session(st->sess);
        send_err = s && s->s_snmp_errno ? s->s_snmp_errno : SNMPERR_GENERR;
        snmp_free_pdu(pdu); /* not sent: still ours */
    } else {
        st->wait.reqid = reqid;
    }
    pthread_mutex_unlock(&snmp_coll_lock);
    if (send_err)
        return send_err;

    int rc = snmp_coll_wait(st, stop);
    if (rc)
        return rc;
    if (st->wait.snmp_err != SNMPERR_SUCCESS) {
        snmp_coll_pdu_free(st->wait.response);
        st->wait.response = NULL;
        return st->wait.snmp_err;
    }
    *response = st->wait.response;
    st->wait.response = NULL;
    st->got_response = true;
    if (st->claim && !st->claim->verified) {
        pthread_mutex_lock(&snmp_coll_lock);
        st->claim->verified = true;
        pthread_cond_broadcast(&snmp_coll_claim_changed);
        pthread_mutex_unlock(&snmp_coll_lock);
    }
    return 0;
}

/* An agent's answer, whichever way it came: v1/v2c from snmp_udp, v3 from
 * net-snmp (its varbinds seen the same way). Valid until the next ask. */
struct snmp_answer {
    long errstat, errindex;
    const struct snmp_ber_varbind *vbs;
    size_t n;
};

/* One request: pdu_type with names[0..n) (GETBULK: max_repetitions). */
struct snmp_ask {
    int pdu_type;
    long max_repetitions;
    const oid *const *names;
    const size_t *name_lens;
    size_t n;
};

/* v3: net-snmp's varbinds in snmp_ber's form, pointing into the PDU. */
static int snmp_coll_v3_varbinds(struct snmp_state *st, const netsnmp_pdu *resp,
                                 struct snmp_answer *a)
{
    size_t n = 0;
    for (const netsnmp_variable_list *vb = resp->variables; vb; vb = vb->next_variable)
        n++;
    if (vec_reserve(st->vbs, st->vbcap, n ? n : 1) < 0)
        return SNMPERR_MALLOC;
    size_t i = 0;
    for (const netsnmp_variable_list *vb = resp->variables; vb; vb = vb->next_variable, i++) {
        struct snmp_ber_varbind *o = &st->vbs[i];
        memset(o, 0, sizeof *o);
        o->name = vb->name;
        o->name_len = vb->name_length;
        o->type = vb->type;
        /* net-snmp keeps numbers in val as the long, counter64, float or
         * double that num holds; bytes serve the other types. */
        size_t k = vb->val_len < sizeof o->num ? vb->val_len : sizeof o->num;
        if (vb->val.string && k)
            memcpy(&o->num, vb->val.string, k);
        o->bytes = vb->val.string;
        o->len = vb->val_len;
    }
    a->errstat = resp->errstat;
    a->errindex = resp->errindex;
    a->vbs = st->vbs;
    a->n = n;
    return 0;
}

/* Sends q and waits for the answer. Returns 0 with *a filled, or an
 * SNMPERR_* / SNMP_COLL_ERR_* code (snmp_coll_fail). */
static int snmp_coll_ask(struct snmp_state *st, const struct snmp_ask *q, struct snmp_answer *a,
                         atomic_int *stop)
{
    const struct cfg_snmp_device *d = st->cfg;
    memset(a, 0, sizeof *a);
    if (st->udp) {
        const char *community = d->community ? d->community : "public";
        struct snmp_ber_request rq = {
            .version = d->version == SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c,
            .community = (const unsigned char *)community,
            .community_len = strlen(community),
            .pdu_type = q->pdu_type,
            .max_repetitions = q->pdu_type == SNMP_MSG_GETBULK ? q->max_repetitions : 0,
            .names = q->names,
            .name_lens = q->name_lens,
            .n = q->n,
        };
        struct snmp_ber_response resp;
        switch (snmp_udp_exchange(st->udp, &rq, d->timeout_ms, d->retries, st->deadline_ms, stop,
                                  &resp, st->transport_why, sizeof st->transport_why)) {
        case SNMP_UDP_OK:
            break;
        case SNMP_UDP_TIMEOUT:
            return SNMPERR_TIMEOUT;
        case SNMP_UDP_DEADLINE:
            return SNMP_COLL_ERR_DEADLINE;
        case SNMP_UDP_STOPPED:
            return SNMP_COLL_ERR_STOPPED;
        default:
            return SNMP_COLL_ERR_TRANSPORT;
        }
        st->got_response = true;
        a->errstat = resp.error_status;
        a->errindex = resp.error_index;
        a->vbs = resp.vbs;
        a->n = resp.n;
        return 0;
    }

    snmp_coll_pdu_free(st->v3_response);
    st->v3_response = NULL;
    pthread_mutex_lock(&snmp_coll_lock);
    netsnmp_pdu *pdu = snmp_pdu_create(q->pdu_type);
    if (pdu) {
        if (q->pdu_type == SNMP_MSG_GETBULK) {
            pdu->non_repeaters = 0;
            pdu->max_repetitions = q->max_repetitions;
        }
        for (size_t i = 0; i < q->n; i++)
            snmp_add_null_var(pdu, q->names[i], q->name_lens[i]);
    }
    pthread_mutex_unlock(&snmp_coll_lock);
    if (!pdu)
        return SNMPERR_MALLOC;
    int code = snmp_coll_exchange(st, pdu, &st->v3_response, stop);
    if (code)
        return code;
    return snmp_coll_v3_varbinds(st, st->v3_response, a);
}

/* ---- SNMPv3 key claims (caller holds snmp_coll_lock) ------------------- */

/* Credentials can share one USM entry when every part both use is equal:
 * the auth key if both authenticate, the priv key if both encrypt. (A
 * noAuthNoPriv device sends no keys at all.) */
static bool snmp_coll_claim_compatible(const struct snmp_usm_claim *c, const struct snmp_state *st)
{
    enum snmp_level both = c->level < st->cfg->level ? c->level : st->cfg->level;
    if (both >= SNMP_AUTH_NOPRIV &&
        (c->auth_proto != st->auth_proto || c->auth_ku_len != st->auth_ku_len ||
         memcmp(c->auth_ku, st->auth_ku, st->auth_ku_len) != 0))
        return false;
    if (both == SNMP_AUTH_PRIV &&
        (c->priv_proto != st->priv_proto || c->priv_ku_len != st->priv_ku_len ||
         memcmp(c->priv_ku, st->priv_ku, st->priv_ku_len) != 0))
        return false;
    return true;
}

/* (Re)creates net-snmp's entry for the session's engine ID and user from
 * the session's keys, and records them in c. Any entry there is replaced:
 * net-snmp would otherwise keep the first keys it saw for good, so a
 * password corrected by a config reload would never take effect. */
static int snmp_coll_claim_install(struct snmp_usm_claim *c, const struct snmp_state *st,
                                   netsnmp_session *s)
{
    struct usmUser *old =
        usm_get_user(s->securityEngineID, s->securityEngineIDLen, s->securityName);
    if (old) {
        usm_remove_user(old);
        usm_free_user(old);
    }
    s->flags &= ~SNMP_FLAGS_USER_CREATED;
    if (usm_create_user_from_session(s) != SNMPERR_SUCCESS)
        return SNMPERR_GENERR;
    memcpy(c->engine_id, s->securityEngineID, s->securityEngineIDLen);
    c->engine_id_len = s->securityEngineIDLen;
    c->level = st->cfg->level;
    c->verified = false; /* new key parts are unproven until the agent answers */
    c->auth_proto = st->auth_proto;
    c->priv_proto = st->priv_proto;
    memcpy(c->auth_ku, st->auth_ku, st->auth_ku_len);
    c->auth_ku_len = st->auth_ku_len;
    memcpy(c->priv_ku, st->priv_ku, st->priv_ku_len);
    c->priv_ku_len = st->priv_ku_len;
    return 0;
}

/* Drops this device's share; the last one out removes the USM entry, so
 * the next device to claim it installs its own keys. */
static void snmp_coll_claim_release(struct snmp_state *st)
{
    struct snmp_usm_claim *c = st->claim;
    st->claim = NULL;
    if (!c)
        return;
    pthread_cond_broadcast(&snmp_coll_claim_changed);
    if (--c->devices > 0)
        return;
    struct usmUser *u = usm_get_user(c->engine_id, c->engine_id_len, c->user);
    if (u) {
        usm_remove_user(u);
        usm_free_user(u);
    }
    for (struct snmp_usm_claim **pp = &snmp_coll_claims; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    free(c->user);
    explicit_bzero(c, sizeof *c);
    free(c);
}

/* Waits (lock released meanwhile) until some claim changes, the poll's
 * deadline passes or stop is set. Returns 0 to look again, or the code
 * that ends the wait. */
static int snmp_coll_claim_wait(const struct snmp_state *st, atomic_int *stop)
{
    if (stop && *stop)
        return SNMP_COLL_ERR_STOPPED;
    int64_t now = util_mono_ms();
    if (now >= st->deadline_ms)
        return SNMP_COLL_ERR_USER_CONFLICT;
    int64_t until = now + SNMP_COLL_STOP_CHECK_MS;
    if (until > st->deadline_ms)
        until = st->deadline_ms;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (until - now) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&snmp_coll_claim_changed, &snmp_coll_lock, &ts);
    return 0;
}

/* Makes net-snmp's USM entry for (engine ID, user) serve this device:
 * shares an entry with compatible credentials (extending it when this
 * device uses more of them, e.g. authPriv beside authNoPriv), installs a
 * new one when there is none, and refuses conflicting ones — at once when
 * the agent has accepted the holder's keys, otherwise only if the holder
 * neither proves nor drops them before this poll's deadline. Returns 0 or
 * an error code. */
static int snmp_coll_claim(struct snmp_state *st, netsnmp_session *s, atomic_int *stop)
{
    if (s->securityEngineIDLen > SNMP_COLL_ENGINE_ID_MAX)
        return SNMPERR_BAD_ENG_ID;
again:
    for (struct snmp_usm_claim *c = snmp_coll_claims; c; c = c->next) {
        if (c->engine_id_len != s->securityEngineIDLen ||
            memcmp(c->engine_id, s->securityEngineID, c->engine_id_len) != 0 ||
            strcmp(c->user, st->cfg->user) != 0)
            continue;
        if (!snmp_coll_claim_compatible(c, st)) {
            if (c->verified)
                return SNMP_COLL_ERR_USER_CONFLICT;
            int rc = snmp_coll_claim_wait(st, stop); /* c may be gone after this */
            if (rc)
                return rc;
            goto again;
        }
        if (st->cfg->level > c->level) {
            int rc = snmp_coll_claim_install(c, st, s);
            if (rc)
                return rc;
        }
        c->devices++;
        st->claim = c;
        return 0;
    }
    struct snmp_usm_claim *c = calloc(1, sizeof *c);
    if (!c || !(c->user = strdup(st->cfg->user))) {
        free(c);
        return SNMPERR_MALLOC;
    }
    int rc = snmp_coll_claim_install(c, st, s);
    if (rc) {
        free(c->user);
        explicit_bzero(c, sizeof *c);
        free(c);
        return rc;
    }
    c->devices = 1;
    c->next = snmp_coll_claims;
    snmp_coll_claims = c;
    st->claim = c;
    return 0;
}

/* ---- session ------------------------------------------------------------- */

static void snmp_coll_session_end(struct snmp_state *st)
{
    snmp_udp_close(st->udp);
    st->udp = NULL;
    snmp_coll_pdu_free(st->v3_response);
    st->v3_response = NULL;
    if (!st->sess)
        return;
    pthread_mutex_lock(&snmp_coll_lock);
    snmp_sess_close(st->sess);
    snmp_coll_claim_release(st);
    pthread_mutex_unlock(&snmp_coll_lock);
    st->sess = NULL;
    st->engine_answered = false;
    st->got_response = false;
    snmp_coll_pdu_free(st->wait.response);
    memset(&st->wait, 0, sizeof st->wait);
}

/* Resolves the host here, outside the library lock, so a slow DNS server
 * delays only this device; net-snmp then gets a numeric address. IPv4 is
 * preferred, as net-snmp's own "udp:" transport does; an IPv6-only name or
 * literal ("::1", "[::1]") is used over udp6. */
static int snmp_coll_resolve(struct snmp_state *st, char *peername, size_t n,
                             struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                             size_t errlen)
{
    const struct cfg_snmp_device *d = st->cfg;
    char host[256];
    size_t hl = strlen(d->host);
    if (hl >= 2 && d->host[0] == '[' && d->host[hl - 1] == ']' && hl - 2 < sizeof host) {
        memcpy(host, d->host + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        util_strlcpy(host, d->host, sizeof host);
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        hints.ai_family = AF_INET6;
        int gai6 = getaddrinfo(host, NULL, &hints, &res);
        if (gai6 != 0)
            return errf(err, errlen, "snmp: cannot resolve %s: %s", d->host, gai_strerror(gai));
    }
    char addr[INET6_ADDRSTRLEN] = "";
    bool v6 = res->ai_family == AF_INET6;
    const void *a = v6 ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                       : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, addr, sizeof addr);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    if (v6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)d->port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)d->port);
    freeaddrinfo(res);
    snprintf(peername, n, v6 ? "udp6:[%s]:%d" : "udp:%s:%d", addr, d->port);
    snprintf(st->peer, sizeof st->peer, v6 ? "[%s]:%d" : "%s:%d", addr, d->port);
    return 0;
}

/* v3: learns the agent's engine ID with the unauthenticated probe of RFC
 * 3414 4, then claims this user's entry in net-snmp's USM table. */
static int snmp_coll_discover_engine(struct snmp_state *st, atomic_int *stop, char *err,
                                     size_t errlen)
{
    pthread_mutex_lock(&snmp_coll_lock);
    /* snmp_sess_open honours DONT_PROBE only while opening; without it on
     * the live session the first send would run net-snmp's own synchronous
     * probe, inside our lock. */
    netsnmp_session *live = snmp_sess_session(st->sess);
    if (live)
        live->flags |= SNMP_FLAGS_DONT_PROBE;
    netsnmp_pdu *probe = snmp_pdu_create(SNMP_MSG_GET);
    if (probe) {
        probe->version = SNMP_VERSION_3;
        probe->securityName = strdup("");
        probe->securityNameLen = 0;
        probe->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
        probe->securityModel = SNMP_SEC_MODEL_USM;
    }
    pthread_mutex_unlock(&snmp_coll_lock);
    if (!probe || !probe->securityName) {
        snmp_coll_pdu_free(probe);
        return errf(err, errlen, "snmp: out of memory");
    }

    netsnmp_pdu *response = NULL;
    int code = snmp_coll_exchange(st, probe, &response, stop);
    snmp_coll_pdu_free(response);
    st->got_response = false; /* discovery is no answer to a real request */

    pthread_mutex_lock(&snmp_coll_lock);
    netsnmp_session *s = snmp_sess_session(st->sess);
    if (s && s->securityEngineIDLen > 0)
        code = snmp_coll_claim(st, s, stop);
    else if (code == SNMPERR_SUCCESS || code == SNMPERR_UNKNOWN_ENG_ID)
        code = SNMPERR_BAD_ENG_ID; /* answered, but not with the agent's engine ID */
    pthread_mutex_unlock(&snmp_coll_lock);
    if (code != 0)
        return snmp_coll_fail(st, code, err, errlen);
    st->engine_answered = true;
    return 0;
}

static int snmp_coll_session_start(struct snmp_state *st, atomic_int *stop, char *err,
                                   size_t errlen)
{
    const struct cfg_snmp_device *d = st->cfg;
    char peername[INET6_ADDRSTRLEN + 24];
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (snmp_coll_resolve(st, peername, sizeof peername, &ss, &sslen, err, errlen) < 0)
        return -1;
    if (d->version != SNMP_V3) {
        /* v1/v2c: our own messages (snmp_ber.c), no net-snmp session. */
        char why[200];
        st->udp = snmp_udp_open((const struct sockaddr *)&ss, sslen, why, sizeof why);
        if (!st->udp)
            return errf(err, errlen, "snmp: cannot open session to %s: %s", st->peer, why);
        return 0;
    }

    netsnmp_session s;
    pthread_mutex_lock(&snmp_coll_lock);
    snmp_sess_init(&s);
    pthread_mutex_unlock(&snmp_coll_lock);
    s.peername = peername;
    s.timeout = (long)(d->timeout_ms * 1000);
    s.retries = d->retries;
    if (d->version == SNMP_V3) {
        s.version = SNMP_VERSION_3;
        s.securityModel = SNMP_SEC_MODEL_USM;
        s.securityName = d->user;
        s.securityNameLen = strlen(d->user);
        s.securityLevel = d->level == SNMP_AUTH_PRIV     ? SNMP_SEC_LEVEL_AUTHPRIV
                          : d->level == SNMP_AUTH_NOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                                         : SNMP_SEC_LEVEL_NOAUTH;
        if (d->level != SNMP_NOAUTH_NOPRIV) {
            s.securityAuthProto = st->auth_proto;
            s.securityAuthProtoLen = st->auth_proto_len;
            memcpy(s.securityAuthKey, st->auth_ku, st->auth_ku_len);
            s.securityAuthKeyLen = st->auth_ku_len;
        }
        if (d->level == SNMP_AUTH_PRIV) {
            s.securityPrivProto = st->priv_proto;
            s.securityPrivProtoLen = st->priv_proto_len;
            memcpy(s.securityPrivKey, st->priv_ku, st->priv_ku_len);
            s.securityPrivKeyLen = st->priv_ku_len;
        }
        if (d->context && *d->context) {
            s.contextName = d->context;
            s.contextNameLen = strlen(d->context);
        }
        /* Discovery happens below, without holding the library lock. */
        s.flags |= SNMP_FLAGS_DONT_PROBE;
    }

    pthread_mutex_lock(&snmp_coll_lock);
    st->sess = snmp_sess_open(&s);
    pthread_mutex_unlock(&snmp_coll_lock);
    /* snmp_sess_open copied what it needs; keep no key bytes on the stack. */
    explicit_bzero(s.securityAuthKey, sizeof s.securityAuthKey);
    explicit_bzero(s.securityPrivKey, sizeof s.securityPrivKey);
    if (!st->sess) {
        char text[128];
        snmp_coll_api_error(s.s_snmp_errno, text, sizeof text);
        return errf(err, errlen, "snmp: cannot open session to %s: %s", st->peer, text);
    }

    if (d->version == SNMP_V3 && snmp_coll_discover_engine(st, stop, err, errlen) < 0) {
        snmp_coll_session_end(st);
        return -1;
    }
    return 0;
}

/* ---- reporting ------------------------------------------------------------ */

static void snmp_coll_report(const struct metric_sink *sink, const char *metric,
                             const struct cfg_snmp_point *p, const struct snmp_ber_varbind *vb)
{
    double raw;
    char reason[160];
    const void *val;
    size_t val_len;
    snmp_ber_value(vb, &val, &val_len);
    if (snmp_value_to_double(vb->type, val, val_len, &raw, reason, sizeof reason) < 0) {
        sink->bad(sink->ctx, metric, reason);
        return;
    }
    sink->good(sink->ctx, metric, raw * p->scale + p->offset, p->unit ? p->unit : "");
}

/* ---- GET points ----------------------------------------------------------- */

/* Reports a GET response for the points batch[0..n). Returns the position
 * (1-based) of a varbind the agent rejected for the whole PDU (SNMPv1
 * noSuchName, genErr with an index), so the caller can ask again without
 * it; 0 when every point of the batch has been reported. */
static size_t snmp_coll_get_answer(struct snmp_state *st, const struct metric_sink *sink,
                                   const size_t *batch, size_t n, const struct snmp_answer *resp)
{
    if (resp->errstat != SNMP_ERR_NOERROR) {
        const char *why = snmp_errstring((int)resp->errstat);
        if (resp->errindex >= 1 && (size_t)resp->errindex <= n) {
            sink->bad(sink->ctx, st->gets[batch[resp->errindex - 1]].cfg->metric, why);
            return (size_t)resp->errindex;
        }
        for (size_t i = 0; i < n; i++)
            sink->bad(sink->ctx, st->gets[batch[i]].cfg->metric, why);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct snmp_get_point *g = &st->gets[batch[i]];
        if (i >= resp->n) {
            sink->bad(sink->ctx, g->cfg->metric, "missing from the agent's response");
            continue;
        }
        const struct snmp_ber_varbind *vb = &resp->vbs[i];
        if (snmp_oid_compare(vb->name, vb->name_len, g->name, g->name_len) != 0) {
            char got[96], reason[160];
            snmp_value_format_oid(vb->name, vb->name_len, got, sizeof got);
            snprintf(reason, sizeof reason, "agent answered with a different OID %s", got);
            sink->bad(sink->ctx, g->cfg->metric, reason);
        } else {
            snmp_coll_report(sink, g->cfg->metric, g->cfg, vb);
        }
    }
    return 0;
}

/* Reads every GET point. st->queue holds the points still to read; each
 * round sends the first get_batch of them. tooBig halves get_batch for good
 * (the agent's limit does not change between polls); a varbind rejected for
 * the whole PDU is reported and dropped, and the rest are asked again. */
static int snmp_coll_poll_gets(struct snmp_state *st, const struct metric_sink *sink,
                               atomic_int *stop, char *err, size_t errlen)
{
    size_t *queue = st->queue, left = st->ngets;
    for (size_t i = 0; i < st->ngets; i++)
        queue[i] = i;
    while (left > 0) {
        size_t n = left < st->get_batch ? left : st->get_batch;
        for (size_t i = 0; i < n; i++) {
            st->names[i] = st->gets[queue[i]].name;
            st->name_lens[i] = st->gets[queue[i]].name_len;
        }
        struct snmp_ask q = {SNMP_MSG_GET, 0, st->names, st->name_lens, n};
        struct snmp_answer ans;
        int code = snmp_coll_ask(st, &q, &ans, stop);
        /* SNMPERR_TOO_LONG: our own request exceeded the message size. */
        bool too_big = code == SNMPERR_TOO_LONG || (!code && ans.errstat == SNMP_ERR_TOOBIG);
        if (code && !too_big)
            return snmp_coll_fail(st, code, err, errlen);
        size_t consumed = n;
        if (too_big && n > 1) {
            st->get_batch = n / 2;
            consumed = 0;
        } else if (too_big) {
            sink->bad(sink->ctx, st->gets[queue[0]].cfg->metric,
                      "tooBig: the agent cannot send this value");
        } else {
            size_t drop = snmp_coll_get_answer(st, sink, queue, n, &ans);
            if (drop > 0) {
                memmove(&queue[drop - 1], &queue[drop], (left - drop) * sizeof *queue);
                left--;
                consumed = 0;
            }
        }
        memmove(queue, queue + consumed, (left - consumed) * sizeof *queue);
        left -= consumed;
    }
    return 0;
}

/* ---- walk points ---------------------------------------------------------- */

static void snmp_coll_rows_free(struct snmp_walk_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].metric);
        free(rows[i].index);
    }
    free(rows);
}

/* A walk that went wrong at the agent: its rows from the last good walk
 * become errors, the rest of the device carries on. */
static void snmp_coll_walk_failed(const struct snmp_walk_point *w, const struct metric_sink *sink,
                                  const char *reason)
{
    char msg[200];
    snprintf(msg, sizeof msg, "walk failed: %s", reason);
    for (size_t i = 0; i < w->nrows; i++)
        sink->bad(sink->ctx, w->rows[i].metric, msg);
}

/* The rows of the walk under way. A table's rows rarely change between
 * polls, so while they repeat the last walk's (same indexes, same order)
 * nothing is copied or named again: `n` only counts them. At the first row
 * that differs the list becomes a copy of its own (`rows`), so the last
 * walk's list stays whole until this walk succeeds. */
struct snmp_walk_rows {
    const struct snmp_walk_point *last;
    bool diverged;
    struct snmp_walk_row *rows;
    size_t n, cap;
};

static int snmp_coll_rows_push(struct snmp_walk_rows *r, const char *metric, const oid *index,
                               size_t index_len)
{
    if (vec_reserve(r->rows, r->cap, r->n + 1) < 0)
        return -1;
    struct snmp_walk_row *row = &r->rows[r->n];
    row->metric = strdup(metric);
    row->index = malloc(index_len * sizeof *index);
    row->index_len = index_len;
    if (!row->metric || !row->index) {
        free(row->metric);
        free(row->index);
        return -1;
    }
    memcpy(row->index, index, index_len * sizeof *index);
    r->n++;
    return 0;
}

/* The metric of the row at index, when it is the last walk's row at this
 * place; NULL when the walk differs from the last one here. */
static const char *snmp_coll_rows_same(const struct snmp_walk_rows *r, const oid *index,
                                       size_t index_len)
{
    if (r->diverged || r->n >= r->last->nrows)
        return NULL;
    const struct snmp_walk_row *row = &r->last->rows[r->n];
    if (row->index_len != index_len || memcmp(row->index, index, index_len * sizeof *index) != 0)
        return NULL;
    return row->metric;
}

/* A row that is not the last walk's at this place. */
static int snmp_coll_rows_add(struct snmp_walk_rows *r, const char *metric, const oid *index,
                              size_t index_len)
{
    if (!r->diverged) {
        r->diverged = true;
        size_t same = r->n;
        r->n = 0;
        for (size_t i = 0; i < same; i++) {
            const struct snmp_walk_row *row = &r->last->rows[i];
            if (snmp_coll_rows_push(r, row->metric, row->index, row->index_len) < 0)
                return -1;
        }
    }
    return snmp_coll_rows_push(r, metric, index, index_len);
}

/* The walk succeeded: its rows become the device's list. */
static void snmp_coll_rows_keep(struct snmp_walk_point *w, struct snmp_walk_rows *r)
{
    if (!r->diverged) {
        /* The same rows, maybe fewer at the end. */
        for (size_t i = r->n; i < w->nrows; i++) {
            free(w->rows[i].metric);
            free(w->rows[i].index);
        }
        w->nrows = r->n;
        return;
    }
    snmp_coll_rows_free(w->rows, w->nrows);
    w->rows = r->rows;
    w->nrows = r->n;
}

/* Handles one page of a walk; *nvb counts its varbinds. Returns 1 to ask
 * for the next page, 0 when the subtree is done, -1 with reason when the
 * walk must stop. */
static int snmp_coll_walk_page(const struct snmp_walk_point *w, const struct metric_sink *sink,
                               const struct snmp_answer *resp, oid *cur, size_t *cur_len,
                               struct snmp_walk_rows *rows, char *reason, size_t reasonlen)
{
    if (resp->n == 0)
        return 0;
    for (size_t k = 0; k < resp->n; k++) {
        const struct snmp_ber_varbind *vb = &resp->vbs[k];
        if (vb->type == SNMP_ENDOFMIBVIEW || vb->type == SNMP_NOSUCHOBJECT ||
            vb->type == SNMP_NOSUCHINSTANCE)
            return 0;
        if (vb->name_len <= w->root_len ||
            snmp_oidtree_compare(w->root, w->root_len, vb->name, vb->name_len) != 0)
            return 0;
        if (vb->name_len > MAX_OID_LEN)
            return errf(reason, reasonlen, "agent returned an OID longer than %d", MAX_OID_LEN);
        if (snmp_oid_compare(vb->name, vb->name_len, cur, *cur_len) <= 0)
            return errf(reason, reasonlen, "agent returned OIDs out of order");
        if (rows->n >= SNMP_COLL_WALK_MAX_ROWS)
            return errf(reason, reasonlen, "more than %d rows", SNMP_COLL_WALK_MAX_ROWS);

        const oid *index = vb->name + w->root_len;
        size_t index_len = vb->name_len - w->root_len;
        const char *same = snmp_coll_rows_same(rows, index, index_len);
        char metric[256], why[160];
        if (same) {
            snmp_coll_report(sink, same, w->cfg, vb);
            rows->n++;
        } else if (snmp_value_walk_metric(w->cfg->metric, w->root, w->root_len, vb->name,
                                          vb->name_len, metric, sizeof metric, why,
                                          sizeof why) == 0) {
            snmp_coll_report(sink, metric, w->cfg, vb);
            if (snmp_coll_rows_add(rows, metric, index, index_len) < 0)
                return errf(reason, reasonlen, "out of memory");
        } else {
            log_debug("snmp: walk %s: row skipped: %s", w->cfg->walk, why);
        }
        memcpy(cur, vb->name, vb->name_len * sizeof *cur);
        *cur_len = vb->name_len;
    }
    return 1;
}

/* The most rows one GETBULK of walk w asks for: the device's limit
 * (tooBig), and what the agent has returned for this walk. */
static long snmp_coll_walk_limit(const struct snmp_state *st, const struct snmp_walk_point *w)
{
    return w->reply_max < st->bulk_repetitions ? w->reply_max : st->bulk_repetitions;
}

/* max-repetitions for the next page of walk w, `done` rows into it, with
 * one row more when the walk must see the table's end (see the top of the
 * file). */
static long snmp_coll_bulk_repetitions(const struct snmp_state *st,
                                       const struct snmp_walk_point *w, size_t done,
                                       bool see_end)
{
    long want = SNMP_COLL_BULK_REPETITIONS, max = snmp_coll_walk_limit(st, w);
    /* Past the rows the last walk had, the table grew: back to pages of
     * the first walk's size. */
    if (w->walked && (done < w->nrows || done == 0)) {
        size_t left = w->nrows - done + (see_end ? 1 : 0);
        if (left == 0)
            left = 1; /* a table known empty: one row past its column shows it still is */
        size_t limit = (size_t)max;
        size_t pages = (left + limit - 1) / limit;
        want = (long)((left + pages - 1) / pages);
    }
    return want < max ? want : max;
}

/* Whether a walk that has read `rows` without seeing the table's end may
 * stop: its end was seen recently enough, and it read as many rows as the
 * last walk, ending at the same row (anything removed or inserted before
 * that row changes one or the other). */
static bool snmp_coll_walk_may_stop(const struct snmp_walk_point *w,
                                    const struct snmp_walk_rows *rows, bool see_end,
                                    const oid *cur, size_t cur_len)
{
    return !see_end && w->walked && rows->n == w->nrows &&
           snmp_oid_compare(cur, cur_len, w->last, w->last_len) == 0;
}

static int snmp_coll_walk(struct snmp_state *st, struct snmp_walk_point *w,
                          const struct metric_sink *sink, atomic_int *stop, char *err,
                          size_t errlen)
{
    oid cur[MAX_OID_LEN];
    size_t cur_len = w->root_len;
    memcpy(cur, w->root, w->root_len * sizeof *cur);
    struct snmp_walk_rows rows = {.last = w};
    char reason[160] = "";
    bool v1 = st->cfg->version == SNMP_V1;
    int64_t now_ms = util_mono_ms();
    /* The end is seen on every walk when that takes no request of its own
     * (the row past the last fits in the requests the rows need), else
     * every walk_growth_check (see the top of the file). */
    size_t limit = v1 ? 1 : (size_t)snmp_coll_walk_limit(st, w);
    size_t rows_known = w->nrows ? w->nrows : 1;
    bool end_free = (w->nrows + 1 + limit - 1) / limit == (rows_known + limit - 1) / limit;
    bool see_end = !w->walked || end_free ||
                   now_ms - w->end_seen_ms >= st->cfg->walk_growth_check_ms;
    bool end_seen = false;

    for (;;) {
        long reps = snmp_coll_bulk_repetitions(st, w, rows.n, see_end);
        const oid *name = cur;
        struct snmp_ask q = {v1 ? SNMP_MSG_GETNEXT : SNMP_MSG_GETBULK, reps, &name, &cur_len, 1};
        struct snmp_answer ans;
        const struct snmp_answer *resp = &ans;
        int code = snmp_coll_ask(st, &q, &ans, stop);
        if (code) {
            snmp_coll_rows_free(rows.rows, rows.diverged ? rows.n : 0);
            return snmp_coll_fail(st, code, err, errlen);
        }
        int more;
        if (resp->errstat == SNMP_ERR_TOOBIG && !v1 && reps > 1) {
            st->bulk_repetitions = reps / 2;
            more = 1;
        } else if (resp->errstat == SNMP_ERR_NOSUCHNAME && v1) {
            more = 0; /* SNMPv1's end of the MIB view */
            end_seen = true;
        } else if (resp->errstat != SNMP_ERR_NOERROR) {
            snprintf(reason, sizeof reason, "%s", snmp_errstring((int)resp->errstat));
            more = -1;
        } else {
            size_t nvb = resp->n;
            more = snmp_coll_walk_page(w, sink, resp, cur, &cur_len, &rows, reason, sizeof reason);
            end_seen = more == 0;
            /* Fewer rows than asked and the table goes on: the most this
             * agent puts in one reply. */
            if (more > 0 && !v1 && nvb > 0 && (long)nvb < reps)
                w->reply_max = (long)nvb;
            if (more > 0 && snmp_coll_walk_may_stop(w, &rows, see_end, cur, cur_len))
                more = 0;
        }
        if (more > 0)
            continue;
        if (more < 0) {
            snmp_coll_walk_failed(w, sink, reason);
            snmp_coll_rows_free(rows.rows, rows.diverged ? rows.n : 0);
        } else {
            snmp_coll_rows_keep(w, &rows);
            w->walked = true;
            memcpy(w->last, cur, cur_len * sizeof *cur);
            w->last_len = cur_len;
            if (end_seen)
                w->end_seen_ms = now_ms;
        }
        return 0;
    }
}

/* ---- collector_ops ---------------------------------------------------------- */

static void snmp_coll_close(void *state)
{
    struct snmp_state *st = state;
    if (!st)
        return;
    snmp_coll_session_end(st);
    for (size_t i = 0; i < st->nwalks; i++)
        snmp_coll_rows_free(st->walks[i].rows, st->walks[i].nrows);
    free(st->gets);
    free(st->walks);
    free(st->queue);
    free(st->names);
    free(st->name_lens);
    free(st->vbs);
    explicit_bzero(st->auth_ku, sizeof st->auth_ku);
    explicit_bzero(st->priv_ku, sizeof st->priv_ku);
    free(st);
}

/* Picks the USM protocol OIDs and turns the passwords into keys (Ku). */
static int snmp_coll_keys(struct snmp_state *st, char *err, size_t errlen)
{
    const struct cfg_snmp_device *d = st->cfg;
    if (!d->user || !*d->user)
        return errf(err, errlen, "snmp: version 3 needs a user");
    if (d->level == SNMP_NOAUTH_NOPRIV)
        return 0;
    switch (d->auth_protocol) {
    case SNMP_AUTH_MD5:
        st->auth_proto = usmHMACMD5AuthProtocol;
        st->auth_proto_len = OID_LENGTH(usmHMACMD5AuthProtocol);
        break;
    case SNMP_AUTH_SHA256:
        st->auth_proto = usmHMAC192SHA256AuthProtocol;
        st->auth_proto_len = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
        break;
    case SNMP_AUTH_SHA512:
        st->auth_proto = usmHMAC384SHA512AuthProtocol;
        st->auth_proto_len = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
        break;
    default:
        st->auth_proto = usmHMACSHA1AuthProtocol;
        st->auth_proto_len = OID_LENGTH(usmHMACSHA1AuthProtocol);
        break;
    }
    if (!d->auth_password || strlen(d->auth_password) < 8)
        return errf(err, errlen, "snmp: the auth password must have at least 8 characters");
    st->auth_ku_len = sizeof st->auth_ku;
    pthread_mutex_lock(&snmp_coll_lock);
    int rc =
        generate_Ku(st->auth_proto, (u_int)st->auth_proto_len, (const u_char *)d->auth_password,
                    strlen(d->auth_password), st->auth_ku, &st->auth_ku_len);
    const char *why = rc == SNMPERR_SUCCESS ? "" : snmp_api_errstring(rc);
    pthread_mutex_unlock(&snmp_coll_lock);
    if (rc != SNMPERR_SUCCESS)
        return errf(err, errlen, "snmp: cannot derive the auth key: %s", why);
    if (d->level != SNMP_AUTH_PRIV)
        return 0;

    switch (d->priv_protocol) {
    case SNMP_PRIV_DES:
        st->priv_proto = usmDESPrivProtocol;
        st->priv_proto_len = OID_LENGTH(usmDESPrivProtocol);
        break;
    case SNMP_PRIV_AES256:
        /* net-snmp's "AES256": draft-blumenthal-aes-usm-04 key extension. */
        st->priv_proto = usmAES256PrivProtocol;
        st->priv_proto_len = OID_LENGTH(usmAES256PrivProtocol);
        break;
    default:
        st->priv_proto = usmAESPrivProtocol;
        st->priv_proto_len = OID_LENGTH(usmAESPrivProtocol);
        break;
    }
    if (!d->priv_password || strlen(d->priv_password) < 8)
        return errf(err, errlen, "snmp: the priv password must have at least 8 characters");
    st->priv_ku_len = sizeof st->priv_ku;
    /* USM derives the privacy key with the authentication hash. */
    pthread_mutex_lock(&snmp_coll_lock);
    rc = generate_Ku(st->auth_proto, (u_int)st->auth_proto_len, (const u_char *)d->priv_password,
                     strlen(d->priv_password), st->priv_ku, &st->priv_ku_len);
    why = rc == SNMPERR_SUCCESS ? "" : snmp_api_errstring(rc);
    pthread_mutex_unlock(&snmp_coll_lock);
    if (rc != SNMPERR_SUCCESS)
        return errf(err, errlen, "snmp: cannot derive the priv key: %s", why);
    return 0;
}

static int snmp_coll_points(struct snmp_state *st, char *err, size_t errlen)
{
    const struct cfg_snmp_device *d = st->cfg;
    st->gets = calloc(d->npoints ? d->npoints : 1, sizeof *st->gets);
    st->walks = calloc(d->npoints ? d->npoints : 1, sizeof *st->walks);
    st->queue = calloc(d->npoints ? d->npoints : 1, sizeof *st->queue);
    st->names = calloc(d->npoints ? d->npoints : 1, sizeof *st->names);
    st->name_lens = calloc(d->npoints ? d->npoints : 1, sizeof *st->name_lens);
    if (!st->gets || !st->walks || !st->queue || !st->names || !st->name_lens)
        return errf(err, errlen, "snmp: out of memory");
    for (size_t i = 0; i < d->npoints; i++) {
        const struct cfg_snmp_point *p = &d->points[i];
        char why[160];
        if (p->oid) {
            struct snmp_get_point *g = &st->gets[st->ngets++];
            g->cfg = p;
            if (snmp_value_parse_oid(p->oid, g->name, MAX_OID_LEN, &g->name_len, why, sizeof why) <
                0)
                return errf(err, errlen, "snmp: points[%zu].oid: %s", i, why);
        } else if (p->walk) {
            struct snmp_walk_point *w = &st->walks[st->nwalks++];
            w->cfg = p;
            w->reply_max = SNMP_COLL_BULK_MAX_REPETITIONS;
            if (snmp_value_parse_oid(p->walk, w->root, MAX_OID_LEN, &w->root_len, why, sizeof why) <
                0)
                return errf(err, errlen, "snmp: points[%zu].walk: %s", i, why);
        } else {
            return errf(err, errlen, "snmp: points[%zu]: neither oid nor walk", i);
        }
    }
    return 0;
}

static int snmp_coll_open(void **state, const void *device_cfg, char *err, size_t errlen)
{
    const struct cfg_snmp_device *d = device_cfg;
    pthread_once(&snmp_coll_once, snmp_coll_lib_init);
    struct snmp_state *st = calloc(1, sizeof *st);
    if (!st)
        return errf(err, errlen, "snmp: out of memory");
    st->cfg = d;
    st->get_batch = SNMP_COLL_MAX_VARBINDS;
    st->bulk_repetitions = SNMP_COLL_BULK_MAX_REPETITIONS;
    snprintf(st->peer, sizeof st->peer, "%s:%d", d->host ? d->host : "", d->port);
    if (!d->host || !*d->host) {
        errf(err, errlen, "snmp: no host");
        goto fail;
    }
    if (snmp_coll_points(st, err, errlen) < 0)
        goto fail;
    if (d->version == SNMP_V3 && snmp_coll_keys(st, err, errlen) < 0)
        goto fail;
    *state = st;
    return 0;
fail:
    snmp_coll_close(st);
    return -1;
}

static int snmp_coll_poll(void *state, const struct metric_sink *sink, atomic_int *stop,
                          char *err, size_t errlen)
{
    struct snmp_state *st = state;
    const struct cfg_snmp_device *d = st->cfg;
    st->deadline_ms = util_mono_ms() + snmp_coll_budget_ms(d);

    if (!st->sess && !st->udp && snmp_coll_session_start(st, stop, err, errlen) < 0)
        return -1;
    if (snmp_coll_poll_gets(st, sink, stop, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < st->nwalks; i++)
        if (snmp_coll_walk(st, &st->walks[i], sink, stop, err, errlen) < 0)
            goto fail;
    return 0;
fail:
    /* The next poll starts over: new socket, and for v3 a new discovery. */
    snmp_coll_session_end(st);
    return -1;
}

const struct collector_ops snmp_collector_ops = {
    .protocol = "snmp",
    .open = snmp_coll_open,
    .poll = snmp_coll_poll,
    .close = snmp_coll_close,
};
