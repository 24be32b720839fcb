/*
 * notify — the systemd notification protocol (sd_notify) without
 * libsystemd: a datagram to the AF_UNIX socket named by $NOTIFY_SOCKET.
 * Outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
 */
#ifndef FLOE_NOTIFY_H
#define FLOE_NOTIFY_H

#include <stdint.h>

/* Sends msg ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."); returns
 * 0 (also when not under systemd) or -1 if the socket could not be used. */
int notify_send(const char *msg);
/* The watchdog interval systemd asked for ($WATCHDOG_USEC, honouring
 * $WATCHDOG_PID), in ms; 0 when no watchdog is set. */
int64_t notify_watchdog_ms(void);

#endif
