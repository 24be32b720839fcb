/*
 * daemon — `floe agent`: the agent's life cycle. Loads the config, opens
 * the store, starts pollers, the recorder and the HTTP API, tells systemd
 * it is ready, pings the watchdog, reloads on SIGHUP (keeping the old
 * config when the new one is invalid) and shuts down in order on SIGTERM.
 */
#ifndef FLOE_DAEMON_H
#define FLOE_DAEMON_H

/* Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a
 * clean stop, 1 when start-up failed (invalid config, store, listen). */
int daemon_run(const char *config_path);

#endif
