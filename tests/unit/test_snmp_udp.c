/*
 * Unit tests for collectors/snmp_udp.c: one SNMPv1/v2c request over UDP
 * against a scripted agent on 127.0.0.1 (a thread of the test). A late
 * reply to an earlier request and bytes that are no SNMP message are
 * dropped and the answer is still taken, also from another address of
 * the agent; tries are resent with the same request id, timeout x tries
 * in all; what came instead of an answer (garbage, more varbinds than
 * asked for) is said when none comes; the stop flag and the poll's
 * deadline end the wait.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "collectors/snmp_udp.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the agent answers to each request it receives. */
enum reply { R_NOTHING, R_ANSWER, R_STALE_GARBAGE_ANSWER, R_GARBAGE, R_OTHER_ADDRESS, R_TOO_MANY };

struct agent {
    int fd;
    int other_fd; /* the agent's other address */
    struct sockaddr_in addr;
    enum reply reply;
    atomic_int requests; /* received */
    long ids[8];       /* their request ids */
    pthread_t thread;
    atomic_int stop;
};

/* Appends tag, length (short form: all test messages are small) and the
 * content. */
static size_t tlv(unsigned char *out, unsigned char tag, const unsigned char *content, size_t len)
{
    assert_true(len < 128);
    out[0] = tag;
    out[1] = (unsigned char)len;
    memcpy(out + 2, content, len);
    return len + 2;
}

/* A v2c Response to request id with nvb varbinds 1.3.6.1.2.1.1.7.0 =
 * INTEGER 72. */
static size_t response(unsigned char *out, long id, int nvb)
{
    static const unsigned char oid_ber[] = {0x2b, 6, 1, 2, 1, 1, 7, 0};
    static const unsigned char value[] = {72}, zero[] = {0}, v2c[] = {1};
    unsigned char vb[32], vb_seq[80], vbs[96], pdu[128], msg[160];
    size_t n = tlv(vb, 0x06, oid_ber, sizeof oid_ber);
    n += tlv(vb + n, 0x02, value, sizeof value);
    size_t vb_len = 0;
    for (int i = 0; i < nvb; i++)
        vb_len += tlv(vb_seq + vb_len, 0x30, vb, n);
    size_t vbs_len = tlv(vbs, 0x30, vb_seq, vb_len);
    unsigned char idb[4] = {(unsigned char)(id >> 24), (unsigned char)(id >> 16),
                            (unsigned char)(id >> 8), (unsigned char)id};
    size_t p = tlv(pdu, 0x02, idb, 4);
    p += tlv(pdu + p, 0x02, zero, 1);
    p += tlv(pdu + p, 0x02, zero, 1);
    memcpy(pdu + p, vbs, vbs_len);
    p += vbs_len;
    size_t m = tlv(msg, 0x02, v2c, 1);
    m += tlv(msg + m, 0x04, (const unsigned char *)"floe-ro", 7);
    m += tlv(msg + m, 0xa2, pdu, p);
    return tlv(out, 0x30, msg, m);
}

static void *agent_main(void *arg)
{
    struct agent *a = arg;
    unsigned char buf[2048], out[256];
    while (!atomic_load(&a->stop)) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        struct timeval tv = {0, 50000};
        setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = recvfrom(a->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            continue;
        struct snmp_ber_varbind vbs[4];
        oid pool[64];
        struct snmp_ber_response rq;
        char why[160];
        if (snmp_ber_decode(buf, (size_t)n, vbs, 4, pool, 64, &rq, why, sizeof why) != 0)
            continue;
        int k = atomic_load(&a->requests);
        if (k < 8)
            a->ids[k] = rq.request_id;
        atomic_store(&a->requests, k + 1);
        size_t len;
        switch (a->reply) {
        case R_NOTHING:
            break;
        case R_STALE_GARBAGE_ANSWER:
            len = response(out, rq.request_id - 1, 1);
            sendto(a->fd, out, len, 0, (struct sockaddr *)&from, fl);
            sendto(a->fd, "\x30\x05garbage", 9, 0, (struct sockaddr *)&from, fl);
            /* fall through */
        case R_ANSWER:
            len = response(out, rq.request_id, 1);
            sendto(a->fd, out, len, 0, (struct sockaddr *)&from, fl);
            break;
        case R_OTHER_ADDRESS:
            len = response(out, rq.request_id, 1);
            sendto(a->other_fd, out, len, 0, (struct sockaddr *)&from, fl);
            break;
        case R_TOO_MANY:
            len = response(out, rq.request_id, 2);
            sendto(a->fd, out, len, 0, (struct sockaddr *)&from, fl);
            break;
        case R_GARBAGE:
            sendto(a->fd, "\x30\x05garbage", 9, 0, (struct sockaddr *)&from, fl);
            break;
        }
    }
    return NULL;
}

static int agent_setup(void **state)
{
    struct agent *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(a->fd >= 0);
    a->addr.sin_family = AF_INET;
    a->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(a->fd, (struct sockaddr *)&a->addr, sizeof a->addr), 0);
    socklen_t l = sizeof a->addr;
    assert_int_equal(getsockname(a->fd, (struct sockaddr *)&a->addr, &l), 0);
    a->other_fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(a->other_fd, (struct sockaddr *)&other, sizeof other), 0);
    assert_int_equal(pthread_create(&a->thread, NULL, agent_main, a), 0);
    *state = a;
    return 0;
}

static int agent_teardown(void **state)
{
    struct agent *a = *state;
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    close(a->fd);
    close(a->other_fd);
    free(a);
    return 0;
}

static const oid sys_services[] = {1, 3, 6, 1, 2, 1, 1, 7, 0};

static enum snmp_udp_result ask(struct agent *a, int64_t timeout_ms, int retries,
                                int64_t deadline_ms, atomic_int *stop,
                                struct snmp_ber_response *resp, char *err, size_t errlen)
{
    struct snmp_udp *u = snmp_udp_open((struct sockaddr *)&a->addr, sizeof a->addr, err, errlen);
    assert_non_null(u);
    const oid *names[] = {sys_services};
    size_t lens[] = {ARRAY_LEN(sys_services)};
    struct snmp_ber_request rq = {.version = SNMP_VERSION_2c,
                                  .community = (const unsigned char *)"floe-ro",
                                  .community_len = 7,
                                  .pdu_type = SNMP_MSG_GET,
                                  .names = names,
                                  .name_lens = lens,
                                  .n = 1};
    enum snmp_udp_result r =
        snmp_udp_exchange(u, &rq, timeout_ms, retries, deadline_ms, stop, resp, err, errlen);
    if (r == SNMP_UDP_OK) {
        /* The answer is read before the socket and its buffers go. */
        assert_int_equal(resp->n, 1);
        assert_int_equal(resp->vbs[0].type, ASN_INTEGER);
        assert_int_equal(resp->vbs[0].num.integer, 72);
        assert_int_equal(resp->request_id, rq.request_id);
    }
    snmp_udp_close(u);
    return r;
}

static void the_answer_is_taken_among_late_replies_and_garbage(void **state)
{
    struct agent *a = *state;
    a->reply = R_STALE_GARBAGE_ANSWER;
    struct snmp_ber_response resp;
    char err[256] = "";
    assert_int_equal(ask(a, 1000, 0, util_mono_ms() + 5000, NULL, &resp, err, sizeof err),
                     SNMP_UDP_OK);
    assert_int_equal(atomic_load(&a->requests), 1);
}

static void every_try_is_resent_with_the_same_id_and_timeout_x_tries_in_all(void **state)
{
    struct agent *a = *state;
    a->reply = R_NOTHING;
    struct snmp_ber_response resp;
    char err[256] = "";
    int64_t t0 = util_mono_ms();
    assert_int_equal(ask(a, 150, 2, t0 + 5000, NULL, &resp, err, sizeof err), SNMP_UDP_TIMEOUT);
    int64_t took = util_mono_ms() - t0;
    assert_true(took >= 450 && took < 1000);
    util_sleep_ms(60, NULL); /* the agent thread has counted the last try */
    assert_int_equal(atomic_load(&a->requests), 3);
    assert_int_equal(a->ids[0], a->ids[1]);
    assert_int_equal(a->ids[1], a->ids[2]);
    assert_string_equal(err, "");
}

static void what_came_instead_of_an_answer_is_said(void **state)
{
    struct agent *a = *state;
    a->reply = R_GARBAGE;
    struct snmp_ber_response resp;
    char err[256] = "";
    assert_int_equal(ask(a, 150, 1, util_mono_ms() + 5000, NULL, &resp, err, sizeof err),
                     SNMP_UDP_TIMEOUT);
    if (!strstr(err, "could not be read"))
        fail_msg("err: %s", err);
}

/* A multi-homed agent may answer from another address than it was asked
 * at: net-snmp takes that answer by its request id, and so does floe. */
static void an_answer_from_another_address_of_the_agent_is_taken(void **state)
{
    struct agent *a = *state;
    a->reply = R_OTHER_ADDRESS;
    struct snmp_ber_response resp;
    char err[256] = "";
    assert_int_equal(ask(a, 1000, 0, util_mono_ms() + 5000, NULL, &resp, err, sizeof err),
                     SNMP_UDP_OK);
}

static void more_varbinds_than_asked_for_are_no_answer(void **state)
{
    struct agent *a = *state;
    a->reply = R_TOO_MANY;
    struct snmp_ber_response resp;
    char err[256] = "";
    assert_int_equal(ask(a, 150, 0, util_mono_ms() + 5000, NULL, &resp, err, sizeof err),
                     SNMP_UDP_TIMEOUT);
    if (!strstr(err, "varbind"))
        fail_msg("err: %s", err);
}

static void the_stop_flag_and_the_deadline_end_the_wait(void **state)
{
    struct agent *a = *state;
    a->reply = R_NOTHING;
    struct snmp_ber_response resp;
    char err[256] = "";
    atomic_int stop = 1;
    int64_t t0 = util_mono_ms();
    assert_int_equal(ask(a, 5000, 1, t0 + 20000, &stop, &resp, err, sizeof err),
                     SNMP_UDP_STOPPED);
    assert_true(util_mono_ms() - t0 < 500);
    t0 = util_mono_ms();
    assert_int_equal(ask(a, 5000, 1, t0 + 200, NULL, &resp, err, sizeof err), SNMP_UDP_DEADLINE);
    int64_t took = util_mono_ms() - t0;
    assert_true(took >= 200 && took < 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_answer_is_taken_among_late_replies_and_garbage,
                                        agent_setup, agent_teardown),
        cmocka_unit_test_setup_teardown(
            every_try_is_resent_with_the_same_id_and_timeout_x_tries_in_all, agent_setup,
            agent_teardown),
        cmocka_unit_test_setup_teardown(what_came_instead_of_an_answer_is_said, agent_setup,
                                        agent_teardown),
        cmocka_unit_test_setup_teardown(an_answer_from_another_address_of_the_agent_is_taken,
                                        agent_setup, agent_teardown),
        cmocka_unit_test_setup_teardown(more_varbinds_than_asked_for_are_no_answer, agent_setup,
                                        agent_teardown),
        cmocka_unit_test_setup_teardown(the_stop_flag_and_the_deadline_end_the_wait, agent_setup,
                                        agent_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
