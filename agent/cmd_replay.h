/*
 * cmd_replay — `floe replay` (SPEC 1): policies over recorded telemetry.
 * main.c dispatches the word "replay" here; the work is in
 * policies/replay.h.
 */
#ifndef FLOE_CMD_REPLAY_H
#define FLOE_CMD_REPLAY_H

/* argv[0] is "replay". Returns the process exit code: 0 when the replay
 * ran (also for --help), 1 for bad input (options, config, telemetry). */
int cmd_replay(int argc, char **argv);

#endif
