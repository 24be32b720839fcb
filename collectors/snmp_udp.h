/*
 * snmp_udp — one SNMPv1/v2c agent over a UDP socket of its own: sends a
 * request (collectors/snmp_ber.h) and waits for its Response, resending
 * after each timeout as net-snmp would (same request id, `retries` more
 * tries). As with net-snmp, the answer is known by its request id, not by
 * the address it comes from: an agent with several addresses may answer
 * from another one than it was asked at. A datagram that is not the
 * answer — a late reply to an earlier request, another version's or PDU's,
 * more varbinds than the request allows, bytes that are no SNMP message —
 * is read and dropped; what was wrong with the last such one is kept for
 * the message when no answer comes, as is a send that failed (a route
 * that went away counts as a lost packet, as a resend may get through).
 *
 * Owns its socket and its buffers (the reply's bytes, varbinds and OIDs),
 * which it reuses from one request to the next: a response from
 * snmp_udp_exchange points into them and stays valid until the next
 * exchange or snmp_udp_close. One thread at a time.
 */
#ifndef FLOE_SNMP_UDP_H
#define FLOE_SNMP_UDP_H

#include "collectors/snmp_ber.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

struct snmp_udp;

/* How an exchange ended. */
enum snmp_udp_result {
    SNMP_UDP_OK = 0,
    SNMP_UDP_TIMEOUT,   /* no answer within timeout x (retries + 1) */
    SNMP_UDP_DEADLINE,  /* the poll's deadline came first */
    SNMP_UDP_STOPPED,   /* *stop was set */
    SNMP_UDP_ERROR,     /* could not encode or send: err says why */
};

/* A socket for the agent at addr (copied). NULL with err on failure. */
struct snmp_udp *snmp_udp_open(const struct sockaddr *addr, socklen_t addrlen, char *err,
                               size_t errlen);
/* NULL is a no-op. */
void snmp_udp_close(struct snmp_udp *u);

/* Sends rq (its request_id is set here) and waits for the Response that
 * carries that id: each try waits timeout_ms, never past the monotonic
 * deadline_ms; *stop (may be NULL) is looked at every 100 ms. On
 * SNMP_UDP_OK *resp is the answer (pointing into u's buffers). On
 * SNMP_UDP_TIMEOUT err says what came instead or why sending failed, if
 * anything ("" otherwise); on SNMP_UDP_ERROR what failed (a request that
 * cannot be encoded, out of memory). */
enum snmp_udp_result snmp_udp_exchange(struct snmp_udp *u, struct snmp_ber_request *rq,
                                       int64_t timeout_ms, int retries, int64_t deadline_ms,
                                       atomic_int *stop, struct snmp_ber_response *resp,
                                       char *err, size_t errlen);

#endif
