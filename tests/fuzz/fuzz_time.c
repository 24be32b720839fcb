/*
 * libFuzzer target for the time parsers of lib/util: durations
 * (util_parse_duration_ms: config, `floe replay --tick`, the API's step)
 * and times (util_parse_time_ms: RFC 3339 or Unix seconds, as replay CSV,
 * --from/--to and the API's since/until take them). The input, as one
 * NUL-terminated string, goes to both. Beyond not crashing or reading
 * past the string, each keeps its contract:
 *   - a rejected input leaves the result untouched, and a rejected
 *     duration says why;
 *   - an accepted duration is 0..9e15 ms and reads back the same from its
 *     compact form (util_format_duration);
 *   - an accepted time of the years 0000-9999 reads back the same from
 *     its RFC 3339 form (util_format_rfc3339), and no time is further
 *     than 1e13 s from the epoch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z */
#define YEAR_0000_MS (-62167219200000LL)
#define YEAR_9999_END_MS 253402300799999LL
#define SENTINEL INT64_MIN

static void check_duration(const char *text)
{
    int64_t ms = SENTINEL;
    char err[256] = "";
    if (util_parse_duration_ms(text, &ms, err, sizeof err) != 0) {
        if (ms != SENTINEL || !err[0])
            abort();
        return;
    }
    if (ms < 0 || ms > 9000000000000000LL)
        abort();
    char compact[32];
    util_format_duration(ms, compact, sizeof compact);
    int64_t back = SENTINEL;
    if (util_parse_duration_ms(compact, &back, err, sizeof err) != 0 || back != ms)
        abort();
}

static void check_time(const char *text)
{
    int64_t ms = SENTINEL;
    if (util_parse_time_ms(text, &ms) != 0) {
        if (ms != SENTINEL)
            abort();
        return;
    }
    if (ms < -10000000000000999LL || ms > 10000000000000999LL)
        abort();
    if (ms < YEAR_0000_MS || ms > YEAR_9999_END_MS)
        return; /* RFC 3339 has four-digit years only */
    char rfc3339[40];
    util_format_rfc3339(ms, rfc3339, sizeof rfc3339);
    int64_t back = SENTINEL;
    if (util_parse_time_ms(rfc3339, &back) != 0 || back != ms)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the NUL. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_duration(text);
    check_time(text);
    free(text);
    return 0;
}
