/*
 * json_util — JSON with comments, for files people edit by hand.
 *
 * floe.json and policy files allow // and block comments. cJSON builds the
 * tree, but its error position is approximate and it has no messages, so
 * json_parse_commented() first scans the text itself: it blanks comments
 * (keeping every byte offset, so positions stay those of the original
 * text), checks the grammar strictly and reports the first problem as
 * "line L column C: message" (column counts UTF-8 characters, from 1).
 */
#ifndef FLOE_JSON_UTIL_H
#define FLOE_JSON_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Deepest nesting of objects and arrays accepted (far above what any
 * config needs; keeps recursion bounded on hostile input). */
#define JSON_MAX_DEPTH 64

/* Parses text[0..len) (need not be NUL-terminated). Returns a new tree
 * (caller frees with cJSON_Delete) or NULL with "line L column C: message"
 * in err. */
cJSON *json_parse_commented(const char *text, size_t len, char *err, size_t errlen);

#endif
