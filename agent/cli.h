/*
 * cli — the client subcommands that talk to a running agent over its HTTP
 * API (`floe status`). URL and token come from --url/--token, else from
 * $FLOE_URL/$FLOE_TOKEN, else http://127.0.0.1:8470 and no token.
 */
#ifndef FLOE_CLI_H
#define FLOE_CLI_H

/* Exit codes shared by the client subcommands. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_REFUSED 1
#define CLI_EXIT_UNREACHABLE 3

int cli_status(int argc, char **argv);

#endif
