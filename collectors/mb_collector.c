/*
 * mb_collector — the Modbus collector (SPEC 2.1) behind collector_ops:
 * open plans the reads and sets up a libmodbus context, poll connects when
 * needed and runs the plan, close frees everything. One state per device;
 * the poller gives every device its own thread, so libmodbus' blocking
 * calls only ever hold up their own device.
 *
 * Every blocking step is bounded by the device's timeout: libmodbus 3.1.6
 * connects TCP non-blocking and waits for the connection with the response
 * timeout (modbus-tcp.c, _connect), and with the byte timeout switched off
 * a whole reply must arrive within the response timeout. A poll therefore
 * takes at most about timeout × (retries + 1) per request, plus pauses.
 * (Host names go through getaddrinfo(), which the timeout does not bound;
 * numeric addresses do not.)
 *
 * Requests go out as raw PDUs and replies are checked by mb_reply_parse()
 * because modbus_read_registers() accepts a TCP reply from any unit id.
 *
 * Failures, by kind:
 *   exception reply    the device answered: the request's points are bad
 *                      with the exception's name, the connection stays,
 *                      the other requests go ahead. Exception 6 (busy) is
 *                      retried busy_retries times first.
 *   malformed reply    the link may be out of step: the connection is
 *                      closed, the request's points are bad, the next
 *                      request reconnects.
 *   timeout / link     retried `retries` times on a fresh connection; then
 *                      the poll fails (-1) and the poller marks the device.
 *   connect failed     the poll fails; no new attempt before a backoff that
 *                      starts at the interval and doubles up to 60 s.
 */
#include <stdatomic.h>
#include <errno.h>
#include <modbus.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "collectors/mb_decode.h"
#include "collectors/mb_plan.h"
#include "config/config.h"
#include "lib/util.h"

#define MB_BACKOFF_CAP_MS 60000

struct mb_state {
    const struct cfg_mb_device *dev; /* borrowed */
    struct mb_plan plan;
    modbus_t *ctx;
    bool connected;
    char endpoint[160];      /* "host:port" or the serial device, for messages */
    int64_t backoff_ms;      /* 0 while connects succeed */
    int64_t next_connect_ms; /* monotonic; no connect attempt before this */
    char connect_err[200];   /* why the last connect failed */
    uint16_t words[MODBUS_MAX_READ_REGISTERS];
    uint8_t bits[MODBUS_MAX_READ_BITS];
    uint8_t frame[MODBUS_TCP_MAX_ADU_LENGTH];
};

enum mb_outcome {
    MB_DONE,         /* reply decoded into words/bits */
    MB_DEVICE_ERROR, /* exception or malformed reply: points bad, poll goes on */
    MB_LINK_ERROR,   /* connect, timeout or broken connection: poll fails */
    MB_STOPPED       /* `stop` was raised while waiting */
};

static bool stopping(atomic_int *stop)
{
    return stop && *stop;
}

static uint8_t function_of(enum mb_table t)
{
    switch (t) {
    case MB_TABLE_COIL:
        return MODBUS_FC_READ_COILS;
    case MB_TABLE_DISCRETE:
        return MODBUS_FC_READ_DISCRETE_INPUTS;
    case MB_TABLE_INPUT:
        return MODBUS_FC_READ_INPUT_REGISTERS;
    case MB_TABLE_HOLDING:
        break;
    }
    return MODBUS_FC_READ_HOLDING_REGISTERS;
}

static void disconnect(struct mb_state *st)
{
    if (st->connected)
        modbus_close(st->ctx);
    st->connected = false;
}

static void mb_close(void *state)
{
    struct mb_state *st = state;
    if (!st)
        return;
    disconnect(st);
    if (st->ctx)
        modbus_free(st->ctx);
    mb_plan_clear(&st->plan);
    free(st);
}

/* ---- open ---- */

static int check_device(const struct cfg_mb_device *d, char *err, size_t errlen)
{
    if (d->timeout_ms <= 0)
        return errf(err, errlen, "timeout must be positive");
    if (d->retries < 0 || d->busy_retries < 0)
        return errf(err, errlen, "retries and busy_retries must not be negative");
    if (d->transport == MB_TRANSPORT_TCP) {
        if (!d->host || !*d->host)
            return errf(err, errlen, "tcp device without host");
        if (d->port < 1 || d->port > 65535)
            return errf(err, errlen, "port %d is outside 1..65535", d->port);
        if (!((d->unit_id >= 0 && d->unit_id <= 247) || d->unit_id == 255))
            return errf(err, errlen, "unit_id %d is outside 0..247 and not 255", d->unit_id);
    } else {
        if (!d->device || !*d->device)
            return errf(err, errlen, "rtu device without serial device path");
        /* 0 is broadcast: nobody answers a read sent to it. */
        if (d->unit_id < 1 || d->unit_id > 247)
            return errf(err, errlen, "unit_id %d is outside 1..247", d->unit_id);
    }
    for (size_t i = 0; i < d->npoints; i++) {
        const struct cfg_mb_point *p = &d->points[i];
        bool bits = p->table == MB_TABLE_COIL || p->table == MB_TABLE_DISCRETE;
        if (bits && p->type != MB_TYPE_BOOL)
            return errf(err, errlen, "points[%zu] (%s): %s table holds bits, not %s", i, p->metric,
                        mb_table_name(p->table), mb_type_name(p->type));
        if (p->bit > 15 || (bits && p->bit >= 0))
            return errf(err, errlen, "points[%zu] (%s): bit %d is not allowed here", i, p->metric,
                        p->bit);
    }
    return 0;
}

static modbus_t *new_context(struct mb_state *st, char *err, size_t errlen)
{
    const struct cfg_mb_device *d = st->dev;
    modbus_t *ctx;
    if (d->transport == MB_TRANSPORT_RTU) {
        snprintf(st->endpoint, sizeof st->endpoint, "%s", d->device);
        ctx = modbus_new_rtu(d->device, d->baud, d->parity, d->data_bits, d->stop_bits);
    } else {
        struct in_addr a;
        snprintf(st->endpoint, sizeof st->endpoint, "%s:%d", d->host, d->port);
        /* modbus_new_tcp() only takes dotted IPv4 (inet_addr); names and
         * IPv6 go through the protocol-independent variant. */
        if (inet_pton(AF_INET, d->host, &a) == 1) {
            ctx = modbus_new_tcp(d->host, d->port);
        } else {
            char service[8];
            snprintf(service, sizeof service, "%d", d->port);
            ctx = modbus_new_tcp_pi(d->host, service);
        }
    }
    if (!ctx)
        errf(err, errlen, "modbus context for %s: %s", st->endpoint, modbus_strerror(errno));
    return ctx;
}

static int mb_open(void **state, const void *device_cfg, char *err, size_t errlen)
{
    const struct cfg_mb_device *d = device_cfg;
    struct mb_state *st = NULL;
    *state = NULL;
    if (check_device(d, err, errlen) != 0)
        return -1;
    st = calloc(1, sizeof *st);
    if (!st)
        return errf(err, errlen, "out of memory");
    st->dev = d;
    struct mb_plan_limits limits = {.max_registers = d->max_registers,
                                    .max_bits = MODBUS_MAX_READ_BITS,
                                    .max_gap = d->max_gap,
                                    .one_request_per_point = d->one_request_per_point};
    if (mb_plan_build(&st->plan, d->points, d->npoints, &limits, err, errlen) != 0)
        goto fail;
    st->ctx = new_context(st, err, errlen);
    if (!st->ctx)
        goto fail;
    if (modbus_set_slave(st->ctx, d->unit_id) != 0) {
        errf(err, errlen, "unit_id %d: %s", d->unit_id, modbus_strerror(errno));
        goto fail;
    }
    uint32_t sec = (uint32_t)(d->timeout_ms / 1000), usec = (uint32_t)(d->timeout_ms % 1000) * 1000;
    /* Byte timeout 0: the whole reply must arrive within the response
     * timeout, so a device trickling bytes cannot stretch a request. */
    if (modbus_set_response_timeout(st->ctx, sec, usec) != 0 ||
        modbus_set_byte_timeout(st->ctx, 0, 0) != 0) {
        errf(err, errlen, "timeout %lld ms: %s", (long long)d->timeout_ms, modbus_strerror(errno));
        goto fail;
    }
    /* We decide about retries and reconnects; libmodbus must not sleep or
     * reconnect behind our back. */
    modbus_set_error_recovery(st->ctx, MODBUS_ERROR_RECOVERY_NONE);
    *state = st;
    return 0;
fail:
    mb_close(st);
    return -1;
}

/* ---- connecting ---- */

/* Connects now. On failure, starts or doubles the backoff and explains in
 * reason. Returns 0 when connected (after pause_after_connect). */
static int connect_now(struct mb_state *st, atomic_int *stop, char *reason, size_t reasonlen)
{
    const struct cfg_mb_device *d = st->dev;
    int64_t attempt_ms = util_mono_ms();
    errno = 0;
    if (modbus_connect(st->ctx) == 0) {
        st->connected = true;
        st->backoff_ms = 0;
        st->next_connect_ms = 0;
        if (d->pause_after_connect_ms > 0 && !util_sleep_ms(d->pause_after_connect_ms, stop))
            return errf(reason, reasonlen, "interrupted by shutdown");
        return 0;
    }
    int e = errno;
    /* libmodbus' connect returns when select() times out without setting
     * errno, which still says EINPROGRESS from the non-blocking connect(). */
    if (e == EINPROGRESS || e == 0)
        e = ETIMEDOUT;
    int64_t cap = d->interval_ms > MB_BACKOFF_CAP_MS ? d->interval_ms : MB_BACKOFF_CAP_MS;
    if (st->backoff_ms == 0)
        st->backoff_ms = d->interval_ms > 0 ? d->interval_ms : 1000;
    else
        st->backoff_ms = st->backoff_ms * 2 < cap ? st->backoff_ms * 2 : cap;
    st->next_connect_ms = attempt_ms + st->backoff_ms;
    snprintf(st->connect_err, sizeof st->connect_err, "modbus connect %s failed: %s", st->endpoint,
             modbus_strerror(e));
    char when[32];
    util_format_duration(st->backoff_ms, when, sizeof when);
    return errf(reason, reasonlen, "%s; will retry in %s", st->connect_err, when);
}

/* 0 when a connect may be tried now; else -1 with "reconnect in Ns (...)".
 * The poller's schedule may wake a few ms before the backoff ends; a
 * quarter interval of slack keeps the first retry on the next poll instead
 * of one interval later. */
static int backoff_allows(const struct mb_state *st, char *err, size_t errlen)
{
    if (st->next_connect_ms == 0)
        return 0;
    int64_t left = st->next_connect_ms - util_mono_ms();
    if (left <= st->dev->interval_ms / 4)
        return 0;
    return errf(err, errlen, "reconnect in %llds (%s)", (long long)((left + 999) / 1000),
                st->connect_err);
}

/* ---- one request ---- */

enum mb_xfer { XFER_OK, XFER_EXCEPTION, XFER_MALFORMED, XFER_LINK };

/* Sends one read and checks its reply; `why` says what went wrong. */
static enum mb_xfer transact(struct mb_state *st, const struct mb_request *r, int *exception,
                             char *why, size_t whylen)
{
    const bool tcp = st->dev->transport == MB_TRANSPORT_TCP;
    const uint8_t fc = function_of(r->table);
    const uint8_t req[6] = {(uint8_t)st->dev->unit_id, fc,
                            (uint8_t)(r->start >> 8),  (uint8_t)r->start,
                            (uint8_t)(r->count >> 8),  (uint8_t)r->count};
    errno = 0;
    if (modbus_send_raw_request(st->ctx, req, (int)sizeof req) < 0) {
        errf(why, whylen, "%s", modbus_strerror(errno));
        return XFER_LINK;
    }
    errno = 0;
    int len = modbus_receive_confirmation(st->ctx, st->frame);
    if (len < 0) {
        int e = errno;
        if (e == EMBBADDATA) {
            errf(why, whylen, "reply announces more data than a Modbus frame holds");
            return XFER_MALFORMED;
        }
        if (e >= MODBUS_ENOBASE) {
            errf(why, whylen, "malformed reply: %s", modbus_strerror(e));
            return XFER_MALFORMED;
        }
        errf(why, whylen, "%s", modbus_strerror(e ? e : EIO));
        return XFER_LINK;
    }
    if (len == 0) {
        /* libmodbus' RTU backend drops a frame from another unit this way. */
        errf(why, whylen, "reply from unit %u, expected unit %d", (unsigned)st->frame[0],
             st->dev->unit_id);
        return XFER_MALFORMED;
    }
    /* modbus_send_raw_request() always sends transaction id 0. */
    struct mb_reply_expect expect = {.tcp = tcp,
                                     .transaction_id = 0,
                                     .unit_id = (uint8_t)st->dev->unit_id,
                                     .function = fc,
                                     .count = r->count};
    switch (mb_reply_parse(st->frame, (size_t)len, &expect, st->words, st->bits, exception, why,
                           whylen)) {
    case MB_REPLY_OK:
        break;
    case MB_REPLY_EXCEPTION:
        return XFER_EXCEPTION;
    case MB_REPLY_MALFORMED:
        return XFER_MALFORMED;
    }
    if (tcp) {
        /* Bytes after a complete reply mean the device and we disagree
         * about framing; the next reply could not be trusted. */
        int extra = modbus_flush(st->ctx);
        if (extra > 0) {
            errf(why, whylen, "%d unexpected bytes after the reply", extra);
            return XFER_MALFORMED;
        }
    }
    return XFER_OK;
}

/* Runs request r with connects, link retries and busy retries. */
static enum mb_outcome run_request(struct mb_state *st, const struct mb_request *r,
                                   atomic_int *stop, char *reason, size_t reasonlen)
{
    const struct cfg_mb_device *d = st->dev;
    int link_left = d->retries, busy_left = d->busy_retries;
    char why[200];
    for (;;) {
        if (!st->connected && connect_now(st, stop, reason, reasonlen) != 0)
            return stopping(stop) ? MB_STOPPED : MB_LINK_ERROR;
        int exception = 0;
        enum mb_xfer x = transact(st, r, &exception, why, sizeof why);
        switch (x) {
        case XFER_OK:
            return MB_DONE;
        case XFER_EXCEPTION:
            if (exception == MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY && busy_left > 0) {
                busy_left--;
                if (!util_sleep_ms(d->busy_retry_wait_ms, stop))
                    return MB_STOPPED;
                continue;
            }
            if (exception == MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY && d->busy_retries > 0)
                errf(reason, reasonlen, "modbus read %s %u+%u: %s (after %d retries)",
                     mb_table_name(r->table), r->start, r->count, why, d->busy_retries);
            else
                errf(reason, reasonlen, "modbus read %s %u+%u: %s", mb_table_name(r->table),
                     r->start, r->count, why);
            return MB_DEVICE_ERROR;
        case XFER_MALFORMED:
            disconnect(st);
            errf(reason, reasonlen, "modbus read %s %u+%u: %s", mb_table_name(r->table), r->start,
                 r->count, why);
            return MB_DEVICE_ERROR;
        case XFER_LINK:
            disconnect(st);
            if (link_left > 0 && !stopping(stop)) {
                link_left--;
                continue;
            }
            errf(reason, reasonlen, "modbus read %s %u+%u failed: %s", mb_table_name(r->table),
                 r->start, r->count, why);
            return stopping(stop) ? MB_STOPPED : MB_LINK_ERROR;
        }
    }
}

/* Decodes and reports every point of request r after MB_DONE. */
static void report_values(const struct mb_state *st, const struct mb_request *r,
                          const struct metric_sink *sink)
{
    const struct mb_plan *plan = &st->plan;
    for (size_t m = r->first_member; m < r->first_member + r->nmembers; m++) {
        size_t i = plan->members[m];
        const struct cfg_mb_point *p = &st->dev->points[i];
        uint16_t off = plan->point_offset[i];
        double value;
        char why[160], reason[256];
        int rc = (r->table == MB_TABLE_COIL || r->table == MB_TABLE_DISCRETE)
                     ? mb_decode_bit_point(p, st->bits[off], &value, why, sizeof why)
                     : mb_decode_register_point(p, st->words + off, &value, why, sizeof why);
        if (rc == 0) {
            sink->good(sink->ctx, p->metric, value, p->unit ? p->unit : "");
        } else {
            snprintf(reason, sizeof reason, "%s %u: %s", mb_table_name(p->table),
                     (unsigned)p->address, why);
            sink->bad(sink->ctx, p->metric, reason);
        }
    }
}

static void report_bad(const struct mb_state *st, const struct mb_request *r,
                       const struct metric_sink *sink, const char *reason)
{
    for (size_t m = r->first_member; m < r->first_member + r->nmembers; m++)
        sink->bad(sink->ctx, st->dev->points[st->plan.members[m]].metric, reason);
}

/* ---- poll ---- */

static int mb_poll(void *state, const struct metric_sink *sink, atomic_int *stop, char *err,
                   size_t errlen)
{
    struct mb_state *st = state;
    const struct cfg_mb_device *d = st->dev;
    int rc = 0;
    if (!st->connected) {
        if (backoff_allows(st, err, errlen) != 0)
            return -1;
        if (connect_now(st, stop, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < st->plan.nrequests; i++) {
        const struct mb_request *r = &st->plan.requests[i];
        if (i > 0 && d->pause_between_requests_ms > 0)
            util_sleep_ms(d->pause_between_requests_ms, stop);
        if (stopping(stop)) {
            rc = errf(err, errlen, "poll interrupted by shutdown");
            break;
        }
        char reason[256];
        enum mb_outcome o = run_request(st, r, stop, reason, sizeof reason);
        if (o == MB_DONE) {
            report_values(st, r, sink);
        } else if (o == MB_DEVICE_ERROR) {
            report_bad(st, r, sink, reason);
        } else if (o == MB_STOPPED) {
            rc = errf(err, errlen, "poll interrupted by shutdown");
            break;
        } else {
            report_bad(st, r, sink, reason);
            rc = errf(err, errlen, "%s", reason);
            break;
        }
    }
    if (d->close_after_poll || rc != 0)
        disconnect(st);
    return rc;
}

const struct collector_ops mb_collector_ops = {
    .protocol = "modbus",
    .open = mb_open,
    .poll = mb_poll,
    .close = mb_close,
};
