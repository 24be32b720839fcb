/*
 * snmp_udp — see snmp_udp.h.
 */
#include "collectors/snmp_udp.h"

#include "lib/util.h"
#include "lib/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* The largest UDP payload over IPv4: no SNMP message is longer. */
#define SNMP_UDP_MAX_MESSAGE 65507
/* How often a wait looks at the stop flag. */
#define SNMP_UDP_STOP_CHECK_MS 100

struct snmp_udp {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    long next_id;
    unsigned char *tx;
    size_t txcap;
    unsigned char rx[SNMP_UDP_MAX_MESSAGE + 1];
    struct snmp_ber_varbind *vbs;
    size_t vbcap;
    oid *pool;
    size_t poolcap;
};

struct snmp_udp *snmp_udp_open(const struct sockaddr *addr, socklen_t addrlen, char *err,
                               size_t errlen)
{
    struct snmp_udp *u = malloc(sizeof *u);
    if (!u) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    memset(u, 0, offsetof(struct snmp_udp, rx));
    u->vbs = NULL;
    u->vbcap = 0;
    u->pool = NULL;
    u->poolcap = 0;
    if (addrlen > sizeof u->addr) {
        errf(err, errlen, "address of %u bytes", (unsigned)addrlen);
        free(u);
        return NULL;
    }
    memcpy(&u->addr, addr, addrlen);
    u->addrlen = addrlen;
    /* Not connected: a connected socket takes datagrams from the address
     * it was connected to only (see the header). */
    u->fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u->fd < 0) {
        errf(err, errlen, "cannot open a UDP socket: %s", strerror(errno));
        free(u);
        return NULL;
    }
    /* Request ids start anywhere, as net-snmp's do: after a restart, a late
     * reply to the old process's requests is not taken for an answer. */
    unsigned int seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (unsigned int)util_mono_ms() ^ (unsigned int)getpid();
    u->next_id = (long)(seed & 0x7fffffff);
    return u;
}

void snmp_udp_close(struct snmp_udp *u)
{
    if (!u)
        return;
    close(u->fd);
    free(u->tx);
    free(u->vbs);
    free(u->pool);
    free(u);
}

/* Encodes rq into u->tx, growing it as the request needs. Returns its
 * length, or 0 with err. */
static size_t snmp_udp_encode(struct snmp_udp *u, const struct snmp_ber_request *rq, char *err,
                              size_t errlen)
{
    for (;;) {
        if (u->txcap > 0) {
            size_t n = snmp_ber_encode(rq, u->tx, u->txcap, err, errlen);
            if (n > 0)
                return n;
            if (u->txcap >= SNMP_UDP_MAX_MESSAGE)
                return 0; /* err says why */
        }
        size_t cap = u->txcap ? u->txcap * 4 : 1024;
        if (cap > SNMP_UDP_MAX_MESSAGE)
            cap = SNMP_UDP_MAX_MESSAGE;
        unsigned char *tx = realloc(u->tx, cap);
        if (!tx) {
            errf(err, errlen, "out of memory");
            return 0;
        }
        u->tx = tx;
        u->txcap = cap;
    }
}

/* The most varbinds an answer to rq may hold. */
static size_t snmp_udp_max_varbinds(const struct snmp_ber_request *rq)
{
    if (rq->pdu_type != SNMP_MSG_GETBULK)
        return rq->n;
    size_t nonrep = rq->non_repeaters < 0 ? 0 : (size_t)rq->non_repeaters;
    if (nonrep > rq->n)
        nonrep = rq->n;
    size_t reps = rq->max_repetitions < 0 ? 0 : (size_t)rq->max_repetitions;
    /* Each varbind takes at least 6 bytes of a message. */
    size_t cap = SNMP_UDP_MAX_MESSAGE / 6;
    size_t rep = rq->n - nonrep;
    if (rep > 0 && reps > (cap - nonrep) / rep)
        return cap;
    return nonrep + rep * reps;
}

/* Reads one datagram and decodes it, at most max_vbs varbinds. Returns 1
 * when it is the answer to request id (version as asked), 0 when there
 * was nothing to read or it was something else (why in `bad`, when it was
 * no answer at all), -1 when out of memory. */
static int snmp_udp_read(struct snmp_udp *u, long version, long id, size_t max_vbs,
                         struct snmp_ber_response *resp, char *bad, size_t badlen)
{
    ssize_t n = recv(u->fd, u->rx, sizeof u->rx, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0)
        return 0;
    if ((size_t)n > sizeof u->rx) {
        snprintf(bad, badlen, "a datagram of %zd bytes, longer than any SNMP message", n);
        return 0;
    }
    /* Room for what the request allows, not for what a datagram could
     * hold: a stray 64 KB datagram must not pin a megabyte per device.
     * A sub-identifier takes at least one byte of the message (the first
     * octet of an OID holds two, its tag and length two more). */
    size_t want_vbs = max_vbs ? max_vbs : 1;
    size_t want_pool = (size_t)n + 2;
    if (want_pool > want_vbs * MAX_OID_LEN)
        want_pool = want_vbs * MAX_OID_LEN;
    if (vec_reserve(u->vbs, u->vbcap, want_vbs) < 0 ||
        vec_reserve(u->pool, u->poolcap, want_pool) < 0)
        return -1;
    char why[200];
    if (snmp_ber_decode(u->rx, (size_t)n, u->vbs, max_vbs, u->pool, u->poolcap, resp, why,
                        sizeof why) != 0) {
        snprintf(bad, badlen, "an answer that could not be read (%s)", why);
        return 0;
    }
    if (resp->pdu_type != SNMP_MSG_RESPONSE || resp->request_id != id ||
        resp->version != version)
        return 0; /* a late reply to an earlier request, or not a reply */
    return 1;
}

enum snmp_udp_result snmp_udp_exchange(struct snmp_udp *u, struct snmp_ber_request *rq,
                                       int64_t timeout_ms, int retries, int64_t deadline_ms,
                                       atomic_int *stop, struct snmp_ber_response *resp,
                                       char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    rq->request_id = u->next_id;
    u->next_id = (u->next_id + 1) & 0x7fffffff;
    size_t len = snmp_udp_encode(u, rq, err, errlen);
    if (len == 0)
        return SNMP_UDP_ERROR;

    char bad[240] = "";
    size_t max_vbs = snmp_udp_max_varbinds(rq);
    for (int try = 0; try <= retries; try++) {
        /* A send that fails (no route for now, buffers full) is a lost
         * packet: the next try may get through. */
        if (sendto(u->fd, u->tx, len, 0, (const struct sockaddr *)&u->addr, u->addrlen) < 0)
            snprintf(bad, sizeof bad, "cannot send: %s", strerror(errno));
        int64_t try_end = util_mono_ms() + timeout_ms;
        for (;;) {
            if (stop && atomic_load(stop))
                return SNMP_UDP_STOPPED;
            int64_t now = util_mono_ms();
            if (now >= deadline_ms)
                return SNMP_UDP_DEADLINE;
            if (now >= try_end)
                break;
            int64_t wait = try_end - now;
            if (deadline_ms - now < wait)
                wait = deadline_ms - now;
            if (stop && wait > SNMP_UDP_STOP_CHECK_MS)
                wait = SNMP_UDP_STOP_CHECK_MS;
            struct pollfd pfd = {.fd = u->fd, .events = POLLIN};
            int ready = poll(&pfd, 1, (int)wait);
            if (ready <= 0)
                continue;
            int got = snmp_udp_read(u, rq->version, rq->request_id, max_vbs, resp, bad,
                                    sizeof bad);
            if (got < 0) {
                errf(err, errlen, "out of memory");
                return SNMP_UDP_ERROR;
            }
            if (got > 0)
                return SNMP_UDP_OK;
        }
    }
    if (bad[0])
        errf(err, errlen, "%s", bad);
    return SNMP_UDP_TIMEOUT;
}
