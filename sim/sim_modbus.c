/*
 * sim_modbus — see sim_modbus.h. The loop follows libmodbus's own
 * multi-client example (modbus_tcp_listen, select, modbus_receive /
 * modbus_reply per readable client); a pipe wakes it for shutdown so stop
 * does not wait for a select timeout.
 */
#include "sim/sim_modbus.h"

#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_regmap.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pollers per site are few; the cap keeps descriptors below FD_SETSIZE. */
#define MAX_CLIENTS 64

struct sim_modbus {
    modbus_t *ctx;
    modbus_mapping_t *map;
    pthread_mutex_t lock; /* guards map */
    int listen_fd;
    int port;
    int wake[2]; /* pipe: a byte means stop */
    int clients[MAX_CLIENTS];
    size_t nclients;
    pthread_t thread;
    bool thread_started;
};

int sim_modbus_port(const struct sim_modbus *s)
{
    return s->port;
}

void sim_modbus_publish(struct sim_modbus *s, const struct sim_model *m)
{
    pthread_mutex_lock(&s->lock);
    sim_regmap_encode(m, s->map->tab_bits, s->map->tab_input_bits, s->map->tab_registers,
                      s->map->tab_input_registers);
    pthread_mutex_unlock(&s->lock);
}

static void accept_client(struct sim_modbus *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        log_warn("modbus: accept: %s", strerror(errno));
        return;
    }
    if (s->nclients >= MAX_CLIENTS || fd >= FD_SETSIZE) {
        log_warn("modbus: refusing a connection: %d clients already", (int)s->nclients);
        close(fd);
        return;
    }
    s->clients[s->nclients++] = fd;
    log_debug("modbus: client connected (%d open)", (int)s->nclients);
}

static bool is_read_function(uint8_t fc)
{
    return fc == MODBUS_FC_READ_COILS || fc == MODBUS_FC_READ_DISCRETE_INPUTS ||
           fc == MODBUS_FC_READ_HOLDING_REGISTERS || fc == MODBUS_FC_READ_INPUT_REGISTERS;
}

/* Serves one request from the client on fd. Returns -1 when the connection should
 * be closed (peer gone or protocol error). */
static int serve_client(struct sim_modbus *s, int fd)
{
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
    modbus_set_socket(s->ctx, fd);
    int len = modbus_receive(s->ctx, req);
    if (len < 0)
        return -1;
    if (len == 0)
        return 0;
    int hdr = modbus_get_header_length(s->ctx);
    int rc;
    if (!is_read_function(req[hdr])) {
        rc = modbus_reply_exception(s->ctx, req, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    } else {
        pthread_mutex_lock(&s->lock);
        rc = modbus_reply(s->ctx, req, len, s->map);
        pthread_mutex_unlock(&s->lock);
    }
    return rc < 0 ? -1 : 0;
}

static void *serve(void *arg)
{
    struct sim_modbus *s = arg;
    for (;;) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(s->listen_fd, &rd);
        FD_SET(s->wake[0], &rd);
        int maxfd = s->listen_fd > s->wake[0] ? s->listen_fd : s->wake[0];
        for (size_t i = 0; i < s->nclients; i++) {
            FD_SET(s->clients[i], &rd);
            if (s->clients[i] > maxfd)
                maxfd = s->clients[i];
        }
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            log_err("modbus: select: %s; server stopped", strerror(errno));
            break;
        }
        if (FD_ISSET(s->wake[0], &rd))
            break;
        /* Clients first: a client accepted now is not in `rd`. */
        for (size_t i = 0; i < s->nclients;) {
            if (FD_ISSET(s->clients[i], &rd) && serve_client(s, s->clients[i]) < 0) {
                close(s->clients[i]);
                s->clients[i] = s->clients[--s->nclients];
                log_debug("modbus: client disconnected (%d open)", (int)s->nclients);
                continue;
            }
            i++;
        }
        if (FD_ISSET(s->listen_fd, &rd))
            accept_client(s);
    }
    modbus_set_socket(s->ctx, -1);
    return NULL;
}

int sim_modbus_start(struct sim_modbus **out, const char *addr, int port,
                     const struct sim_model *initial, char *err, size_t errlen)
{
    struct sim_modbus *s = calloc(1, sizeof *s);
    if (!s)
        return errf(err, errlen, "out of memory");
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->ctx = modbus_new_tcp(addr, port);
    s->map = modbus_mapping_new(SIM_REGMAP_SIZE, SIM_REGMAP_SIZE, SIM_REGMAP_SIZE, SIM_REGMAP_SIZE);
    if (!s->ctx || !s->map) {
        errf(err, errlen, "modbus: %s", modbus_strerror(errno));
        goto fail;
    }
    /* A client that sends half a request must not stall the others. */
    modbus_set_indication_timeout(s->ctx, 1, 0);
    sim_modbus_publish(s, initial);
    s->listen_fd = modbus_tcp_listen(s->ctx, 16);
    if (s->listen_fd < 0) {
        errf(err, errlen, "modbus: listen on %s:%d: %s", addr, port, modbus_strerror(errno));
        goto fail;
    }
    fcntl(s->listen_fd, F_SETFD, FD_CLOEXEC);
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    if (getsockname(s->listen_fd, (struct sockaddr *)&sa, &salen) < 0) {
        errf(err, errlen, "modbus: getsockname: %s", strerror(errno));
        goto fail;
    }
    s->port = ntohs(sa.sin_port);
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        errf(err, errlen, "modbus: pipe: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&s->thread, NULL, serve, s);
    if (rc != 0) {
        errf(err, errlen, "modbus: thread: %s", strerror(rc));
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return 0;
fail:
    sim_modbus_stop(s);
    return -1;
}

void sim_modbus_stop(struct sim_modbus *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        char byte = 1;
        while (write(s->wake[1], &byte, 1) < 0 && errno == EINTR)
            ;
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < s->nclients; i++)
        close(s->clients[i]);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    if (s->ctx)
        modbus_free(s->ctx);
    if (s->map)
        modbus_mapping_free(s->map);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
