/*
 * json_util — JSON with comments, for files people edit by hand.
 *
 * floe.json and policy files allow // and block comments. cJSON builds the
 * tree, but its error position is approximate and it has no messages, so
 * json_parse_commented() first scans the text itself: it blanks comments
 * (keeping every byte offset, so positions stay those of the original
 * text), checks the grammar strictly and reports the first problem as
 * "line L column C: message" (column counts UTF-8 characters, from 1).
 *
 * cJSON keeps no positions, so json_parse_located() also records where
 * each key and value starts while scanning and pairs those marks with the
 * tree's items afterwards (the scan and cJSON meet the values in the same
 * order), so that a loader can say on which line a bad value is.
 */
#ifndef FLOE_JSON_UTIL_H
#define FLOE_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Deepest nesting of objects and arrays accepted (far above what any
 * config needs; keeps recursion bounded on hostile input). */
#define JSON_MAX_DEPTH 64

/* Parses text[0..len) (need not be NUL-terminated). Returns a new tree
 * (caller frees with cJSON_Delete) or NULL with "line L column C: message"
 * in err. */
cJSON *json_parse_commented(const char *text, size_t len, char *err, size_t errlen);

/* A place in the text: line from 1, column in UTF-8 characters from 1. */
struct json_pos {
    int line, col;
};

/* Where every key and value of one parsed tree starts. */
struct json_positions;

/* json_parse_commented, with the position apart: on failure err holds the
 * message alone and *err_at (if not NULL) where it is. On success, when
 * positions is not NULL, *positions gets a new table of the tree's
 * positions (free with json_positions_free; NULL if there was no memory
 * for it, which only costs the messages their line numbers). */
cJSON *json_parse_located(const char *text, size_t len, struct json_positions **positions,
                          struct json_pos *err_at, char *err, size_t errlen);

/* Where item (from the tree the table was made with) starts: its value,
 * or with of_key the key naming it in its object. Returns 0, or -1 when
 * the table does not know the item (or it has no key). */
int json_position_of(const struct json_positions *positions, const cJSON *item, bool of_key,
                     struct json_pos *out);

/* NULL is a no-op. */
void json_positions_free(struct json_positions *positions);

#endif
