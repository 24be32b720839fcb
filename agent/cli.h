/*
 * cli — the client subcommands that talk to a running agent over its HTTP
 * API (`floe status`, `floe decisions`, `floe approve`, `floe reject`,
 * `floe migrations`, `floe abort`).
 * URL and token come from --url/--token, else from
 * $FLOE_URL/$FLOE_TOKEN, else http://127.0.0.1:8470 and no token.
 */
#ifndef FLOE_CLI_H
#define FLOE_CLI_H

/* Exit codes shared by the client subcommands. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_REFUSED 1
#define CLI_EXIT_UNREACHABLE 3

int cli_status(int argc, char **argv);
/* floe decisions: the latest decisions, one line each. */
int cli_decisions(int argc, char **argv);
/* floe approve ID / floe reject ID: answer a decision awaiting approval
 * (needs an operator token). Exit 1 when the agent refuses (e.g. 409). */
int cli_approve(int argc, char **argv);
int cli_reject(int argc, char **argv);
/* floe migrations [ID]: the latest migrations, one line each; with an id,
 * one in full with its events. */
int cli_migrations(int argc, char **argv);
/* floe abort ID: roll a migration back (operator token). Exit 1 when the
 * agent refuses (409: ended or already cut over). */
int cli_abort(int argc, char **argv);

#endif
