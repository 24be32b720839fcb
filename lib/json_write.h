/*
 * json_write — JSON text written straight into a struct strbuf, for the
 * answers that are rendered often (/v1/telemetry) where building a cJSON
 * tree per answer cost more than the rest of the request.
 *
 * The output is what cJSON_PrintUnformatted prints for the same values
 * (strings escaped as cJSON escapes them, UTF-8 passed through; numbers
 * as cJSON prints them), with one deliberate difference: a non-integer
 * number is printed with 15 significant digits only when those read back
 * as exactly the same double, else with 17, where cJSON accepts 15 digits
 * that read back within one part in 2^52. Our text always reads back as
 * the very value.
 */
#ifndef FLOE_JSON_WRITE_H
#define FLOE_JSON_WRITE_H

#include <stdint.h>

#include "lib/strbuf.h"

/* A JSON string (with its quotes); NULL writes null. */
void json_put_string(struct strbuf *b, const char *s);
/* A number; NaN and infinities write null (JSON has no spelling for them). */
void json_put_number(struct strbuf *b, double v);
/* ms / 1000 as json_put_number would print it, without floating point
 * (an age in seconds with millisecond digits). ms >= 0. */
void json_put_millis(struct strbuf *b, int64_t ms);
/* A time as an RFC 3339 string (util_format_rfc3339), null for ms <= 0
 * (never set), as the API writes times. */
void json_put_time(struct strbuf *b, int64_t ms);

#endif
