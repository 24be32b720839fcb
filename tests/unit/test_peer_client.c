/*
 * test_peer_client — asking peers for capacity and reservations (SPEC 5).
 *
 * The parsers as tables: a good capacity answer with each field wrong in
 * turn (missing, twice, wrong type, negative, not finite, absurd, a name
 * that is not the peer's), texts that are not one JSON object (empty,
 * truncated, trailing bytes, deep nesting, NUL bytes, over 64 KiB), grants
 * with every id rule, refusals. Then the client against a loopback server
 * run by the test, where the peer's URL path names what the server does:
 * concurrency (slow peers cost one timeout, not the sum), unreachable,
 * 401 with its text, garbage, 409 with spare_kw, a grant with the wrong
 * kW released and one with an unusable id not, release 404 and errors,
 * and the log: each skipped peer once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "placement/peer_client.h"

/* ---- capacity answers ---- */

struct field {
    const char *key, *value;
};

static const struct field good_fields[] = {
    {"site", "\"falkenberg-1\""},
    {"accepting", "true"},
    {"spare_kw", "120.5"},
    {"power_headroom_kw", "300"},
    {"cooling_headroom_kw", "160.5"},
    {"reserved_kw", "20"},
    {"ingress", "\"198.51.100.7\""},
    {"as_of", "\"2026-03-01T10:00:00Z\""},
};

/* A capacity answer: the good one with `key` set to `value` (NULL: left
 * out) and `extra` ("\"k\":v") added at the end. Caller frees. */
static char *capacity_with(const char *key, const char *value, const char *extra)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    fputc('{', f);
    const char *sep = "";
    for (size_t i = 0; i < ARRAY_LEN(good_fields); i++) {
        const char *v = good_fields[i].value;
        if (key && strcmp(key, good_fields[i].key) == 0)
            v = value;
        if (!v)
            continue;
        fprintf(f, "%s\"%s\":%s", sep, good_fields[i].key, v);
        sep = ",";
    }
    if (extra)
        fprintf(f, "%s%s", sep, extra);
    fputc('}', f);
    fclose(f);
    return out;
}

static void a_good_capacity_answer_is_read_whole(void **unused)
{
    (void)unused;
    char *text = capacity_with(NULL, NULL, NULL);
    struct peer_capacity c;
    char err[256] = "";
    assert_int_equal(peer_parse_capacity(text, strlen(text), "falkenberg-1", &c, err, sizeof err),
                     0);
    assert_string_equal(c.site, "falkenberg-1");
    assert_true(c.accepting);
    assert_true(c.spare_kw == 120.5);
    assert_true(c.power_headroom_kw == 300);
    assert_true(c.cooling_headroom_kw == 160.5);
    assert_true(c.reserved_kw == 20);
    assert_string_equal(c.ingress, "198.51.100.7");
    assert_int_equal(c.as_of_ms, 1772359200000LL);
    free(text);
}

struct good_case {
    const char *name, *key, *value, *extra;
};

static const struct good_case good_cases[] = {
    {"headroom null while the peer's inputs are unknown", "power_headroom_kw", "null", NULL},
    {"cooling headroom null", "cooling_headroom_kw", "null", NULL},
    {"negative headroom: a site over its capacity", "cooling_headroom_kw", "-40", NULL},
    {"ingress null: a peer without site.ingress", "ingress", "null", NULL},
    {"spare 0, not accepting", "spare_kw", "0", "\"note\":[1,{\"a\":null}]"},
    {"a key SPEC does not name is ignored", NULL, NULL, "\"version\":\"0.2.0\""},
    {"as_of with an offset", "as_of", "\"2026-03-01T11:00:00+01:00\"", NULL},
    {"spare at the plausible maximum", "spare_kw", "1e7", NULL},
    {"white space around the object", NULL, NULL, NULL},
};

static void acceptable_variants_are_accepted(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(good_cases); i++) {
        const struct good_case *gc = &good_cases[i];
        char *body = capacity_with(gc->key, gc->value, gc->extra);
        char *text = NULL;
        assert_true(asprintf(&text, " \r\n%s\n\t", body) > 0);
        struct peer_capacity c;
        char err[256] = "";
        int rc = peer_parse_capacity(text, strlen(text), "falkenberg-1", &c, err, sizeof err);
        if (rc != 0)
            fail_msg("%s: refused: %s", gc->name, err);
        free(text);
        free(body);
    }
    char *text = capacity_with("power_headroom_kw", "null", NULL);
    struct peer_capacity c;
    char err[256];
    assert_int_equal(peer_parse_capacity(text, strlen(text), NULL, &c, err, sizeof err), 0);
    assert_true(isnan(c.power_headroom_kw));
    free(text);
}

struct bad_case {
    const char *key, *value, *extra; /* the good answer with key = value, plus extra */
    const char *want;                /* the whole error message */
};

static const struct bad_case bad_fields[] = {
    {"site", NULL, NULL, "site is missing"},
    {"site", "5", NULL, "site is not a string (a number)"},
    {"site", "\"lulea-1\"", NULL, "site is 'lulea-1', expected 'falkenberg-1'"},
    {"site", "\"\"", NULL, "site is '', expected 'falkenberg-1'"},
    {"accepting", NULL, NULL, "accepting is missing"},
    {"accepting", "\"yes\"", NULL, "accepting is not true or false (a string)"},
    {"accepting", "1", NULL, "accepting is not true or false (a number)"},
    {"accepting", "null", NULL, "accepting is not true or false (null)"},
    {"spare_kw", NULL, NULL, "spare_kw is missing"},
    {"spare_kw", "\"120\"", NULL, "spare_kw is not a number (a string)"},
    {"spare_kw", "\"NaN\"", NULL, "spare_kw is not a number (a string)"},
    {"spare_kw", "\"Infinity\"", NULL, "spare_kw is not a number (a string)"},
    {"spare_kw", "null", NULL, "spare_kw is not a number (null)"},
    {"spare_kw", "[120]", NULL, "spare_kw is not a number (an array)"},
    {"spare_kw", "{\"kw\":120}", NULL, "spare_kw is not a number (an object)"},
    {"spare_kw", "true", NULL, "spare_kw is not a number (a bool)"},
    {"spare_kw", "-1", NULL, "spare_kw is negative (-1)"},
    {"spare_kw", "1e999", NULL, "spare_kw is not a finite number"},
    {"spare_kw", "-1e999", NULL, "spare_kw is not a finite number"},
    {"spare_kw", "1e300", NULL, "spare_kw is 1e+300, beyond the 1e+07 kW any site has"},
    {"spare_kw", "10000000.5", NULL, "spare_kw is 1e+07, beyond the 1e+07 kW any site has"},
    {"spare_kw", "5", "\"spare_kw\":500", "spare_kw is given 2 times"},
    {"power_headroom_kw", NULL, NULL, "power_headroom_kw is missing"},
    {"power_headroom_kw", "\"300\"", NULL, "power_headroom_kw is not a number or null (a string)"},
    {"power_headroom_kw", "-1e300", NULL,
     "power_headroom_kw is -1e+300, beyond the 1e+07 kW any site has"},
    {"cooling_headroom_kw", NULL, NULL, "cooling_headroom_kw is missing"},
    {"cooling_headroom_kw", "false", NULL, "cooling_headroom_kw is not a number or null (a bool)"},
    {"reserved_kw", NULL, NULL, "reserved_kw is missing"},
    {"reserved_kw", "-0.5", NULL, "reserved_kw is negative (-0.5)"},
    {"reserved_kw", "null", NULL, "reserved_kw is not a number (null)"},
    {"ingress", NULL, NULL, "ingress is missing"},
    {"ingress", "7", NULL, "ingress is not a string or null (a number)"},
    {"ingress", "\"a b\"", NULL, "ingress 'a b' is not a host name or address"},
    {"ingress", "\"http://x/\"", NULL, "ingress 'http://x/' is not a host name or address"},
    {"as_of", NULL, NULL, "as_of is missing"},
    {"as_of", "1772359200", NULL, "as_of is not a string (a number)"},
    {"as_of", "\"1772359200\"", NULL, "as_of '1772359200' is not an RFC 3339 time"},
    {"as_of", "\"yesterday\"", NULL, "as_of 'yesterday' is not an RFC 3339 time"},
    {"as_of", "\"2026-02-30T10:00:00Z\"", NULL,
     "as_of '2026-02-30T10:00:00Z' is not an RFC 3339 time"},
    {"as_of", "\"2026-03-01T10:00:00Z\"", "\"as_of\":\"2026-03-01T10:00:00Z\"",
     "as_of is given 2 times"},
};

static void every_field_wrong_in_turn_is_garbage_naming_it(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(bad_fields); i++) {
        const struct bad_case *bc = &bad_fields[i];
        char *text = capacity_with(bc->key, bc->value, bc->extra);
        struct peer_capacity c;
        memset(&c, 0x5a, sizeof c);
        char err[256] = "";
        int rc = peer_parse_capacity(text, strlen(text), "falkenberg-1", &c, err, sizeof err);
        if (rc != -1 || strcmp(err, bc->want) != 0)
            fail_msg("%s: rc %d, error '%s', expected '%s'", text, rc, err, bc->want);
        free(text);
    }
}

struct text_case {
    const char *name;
    const char *text;
    const char *want; /* the error message starts with this */
};

static const struct text_case bad_texts[] = {
    {"empty", "", "empty answer"},
    {"blank", "  \n", "not JSON at byte"},
    {"an array", "[]", "not a JSON object but an array"},
    {"a string", "\"capacity\"", "not a JSON object but a string"},
    {"a number", "120", "not a JSON object but a number"},
    {"null", "null", "not a JSON object but null"},
    {"an HTML page", "<html><body>Bad Gateway</body></html>", "not JSON at byte 0"},
    {"an open brace", "{", "not JSON at byte"},
    {"truncated", "{\"site\":\"falkenberg-1\",\"accepting\":tr", "not JSON at byte"},
    {"NaN literal", "{\"spare_kw\":NaN}", "not JSON at byte"},
    {"two objects", "{}{}", "not JSON at byte 2 (more after the value)"},
    {"a trailing word", "{} ok", "not JSON at byte 3 (more after the value)"},
    {"single quotes", "{'site':'x'}", "not JSON at byte"},
    {"an empty object", "{}", "site is missing"},
};

static void texts_that_are_not_one_object_are_garbage(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(bad_texts); i++) {
        const struct text_case *tc = &bad_texts[i];
        struct peer_capacity c;
        char err[256] = "";
        int rc =
            peer_parse_capacity(tc->text, strlen(tc->text), "falkenberg-1", &c, err, sizeof err);
        if (rc != -1 || strncmp(err, tc->want, strlen(tc->want)) != 0)
            fail_msg("%s: rc %d, error '%s', expected '%s...'", tc->name, rc, err, tc->want);
    }
}

static void truncation_at_every_byte_is_garbage(void **unused)
{
    (void)unused;
    char *text = capacity_with(NULL, NULL, NULL);
    size_t len = strlen(text);
    for (size_t cut = 0; cut < len; cut++) {
        struct peer_capacity c;
        char err[256] = "";
        /* not NUL-terminated at the cut: the parser must stay inside len */
        if (peer_parse_capacity(text, cut, "falkenberg-1", &c, err, sizeof err) != -1)
            fail_msg("accepted the first %zu bytes", cut);
        assert_true(err[0] != '\0');
    }
    free(text);
}

static void nul_bytes_deep_nesting_and_size_are_garbage(void **unused)
{
    (void)unused;
    struct peer_capacity c;
    char err[256];
    char *good = capacity_with(NULL, NULL, NULL);
    size_t len = strlen(good);
    good[5] = '\0'; /* inside "site" */
    assert_int_equal(peer_parse_capacity(good, len, "falkenberg-1", &c, err, sizeof err), -1);
    assert_string_equal(err, "not JSON at byte 5 (a NUL byte)");
    free(good);

    /* deeper than cJSON nests: refused, not a stack overflow */
    size_t depth = 20000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    assert_int_equal(peer_parse_capacity(deep, 2 * depth, NULL, &c, err, sizeof err), -1);
    assert_string_equal(err, "not JSON at byte 1000");
    /* nested deep under a key the parser ignores, but still parsed */
    char *inner = NULL;
    assert_true(asprintf(&inner, "\"x\":%.*s%.*s", 500, deep, 500, deep + depth) > 0);
    char *text = capacity_with(NULL, NULL, inner);
    assert_int_equal(peer_parse_capacity(text, strlen(text), NULL, &c, err, sizeof err), 0);
    free(text);
    free(inner);
    free(deep);

    /* over 64 KiB, even when valid JSON */
    size_t pad = PEER_ANSWER_MAX;
    char *big_extra = malloc(pad + 16);
    memcpy(big_extra, "\"pad\":\"", 7);
    memset(big_extra + 7, 'x', pad);
    memcpy(big_extra + 7 + pad, "\"", 2);
    text = capacity_with(NULL, NULL, big_extra);
    assert_int_equal(peer_parse_capacity(text, strlen(text), NULL, &c, err, sizeof err), -1);
    char want[128];
    snprintf(want, sizeof want, "%zu bytes, over the 64 KiB an answer may have", strlen(text));
    assert_string_equal(err, want);
    free(text);
    free(big_extra);
}

static void a_peers_text_is_cleaned_before_it_is_quoted(void **unused)
{
    (void)unused;
    /* an escape sequence and a newline in the site name: a reason goes to
     * the log and to terminals */
    char *text = capacity_with("site", "\"\\u001b[31mlulea\\nfake log line\"", NULL);
    struct peer_capacity c;
    char err[256] = "";
    assert_int_equal(peer_parse_capacity(text, strlen(text), "falkenberg-1", &c, err, sizeof err),
                     -1);
    assert_string_equal(err, "site is '?[31mlulea?fake log line', expected 'falkenberg-1'");
    free(text);
    /* a long one is cut */
    char longsite[300];
    memset(longsite, 'a', sizeof longsite);
    longsite[0] = '"';
    longsite[298] = '"';
    longsite[299] = '\0';
    text = capacity_with("site", longsite, NULL);
    assert_int_equal(peer_parse_capacity(text, strlen(text), "falkenberg-1", &c, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "aaa...', expected"));
    assert_true(strlen(err) < 140);
    free(text);
}

/* ---- grants and refusals ---- */

struct grant_case {
    const char *text;
    int rc;
    const char *id;   /* out->id afterwards */
    const char *want; /* error, "" when granted */
};

#define EXPIRES "\"expires_at\":\"2026-03-01T10:05:00Z\""

static const struct grant_case grant_cases[] = {
    {"{\"id\":\"r-1\",\"kw\":12.5," EXPIRES "}", 0, "r-1", ""},
    {"{\"id\":42,\"kw\":12.5," EXPIRES "}", 0, "42", ""},
    {"{\"id\":0,\"kw\":12.5," EXPIRES "}", 0, "0", ""},
    {"{\"id\":\"a.b_C-9\",\"kw\":12.5," EXPIRES ",\"note\":1}", 0, "a.b_C-9", ""},
    {"{\"id\":\"r-1\",\"kw\":12.5000000000001," EXPIRES "}", 0, "r-1", ""},
    {"{\"id\":1.5,\"kw\":12.5," EXPIRES "}", -1, "", "id 1.5 is not a whole number from 0 to 2^53"},
    {"{\"id\":-1,\"kw\":12.5," EXPIRES "}", -1, "", "id -1 is not a whole number from 0 to 2^53"},
    {"{\"id\":1e300,\"kw\":12.5," EXPIRES "}", -1, "",
     "id 1e+300 is not a whole number from 0 to 2^53"},
    {"{\"id\":\"\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id '' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\"..\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id '..' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\".\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id '.' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\"../../v1/policies/x\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id '../../v1/policies/x' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only "
     "dots)"},
    {"{\"id\":\"r 1\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id 'r 1' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\"r%2F1\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id 'r%2F1' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\"r?x=1\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id 'r?x=1' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":\"r\\u00e9\",\"kw\":12.5," EXPIRES "}", -1, "",
     "id 'r?"
     "?' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only dots)"},
    {"{\"id\":null,\"kw\":12.5," EXPIRES "}", -1, "", "id is not a string or number (null)"},
    {"{\"id\":[\"r-1\"],\"kw\":12.5," EXPIRES "}", -1, "",
     "id is not a string or number (an array)"},
    {"{\"kw\":12.5," EXPIRES "}", -1, "", "id is missing"},
    {"{\"id\":\"r-1\",\"id\":\"r-2\",\"kw\":12.5," EXPIRES "}", -1, "", "id is given 2 times"},
    /* from here the id is usable: kept for a release */
    {"{\"id\":\"r-1\",\"kw\":10," EXPIRES "}", -1, "r-1", "kw is 10, asked 12.5"},
    {"{\"id\":\"r-1\",\"kw\":0," EXPIRES "}", -1, "r-1", "kw is 0, asked 12.5"},
    {"{\"id\":\"r-1\",\"kw\":\"12.5\"," EXPIRES "}", -1, "r-1", "kw is not a number (a string)"},
    {"{\"id\":\"r-1\"," EXPIRES "}", -1, "r-1", "kw is missing"},
    {"{\"id\":\"r-1\",\"kw\":12.5}", -1, "r-1", "expires_at is missing"},
    {"{\"id\":\"r-1\",\"kw\":12.5,\"expires_at\":\"soon\"}", -1, "r-1",
     "expires_at 'soon' is not an RFC 3339 time"},
    {"{\"id\":7,\"kw\":12.5,\"expires_at\":300}", -1, "7", "expires_at is not a string (a number)"},
    {"[\"r-1\"]", -1, "", "not a JSON object but an array"},
    {"", -1, "", "empty answer"},
};

static void grants_follow_the_id_and_kw_rules(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(grant_cases); i++) {
        const struct grant_case *gc = &grant_cases[i];
        struct peer_grant g;
        memset(&g, 0x5a, sizeof g);
        char err[256] = "";
        int rc = peer_parse_grant(gc->text, strlen(gc->text), 12.5, &g, err, sizeof err);
        if (rc != gc->rc || strcmp(g.id, gc->id) != 0 || strcmp(err, gc->want) != 0)
            fail_msg("%s: rc %d id '%s' error '%s'; expected rc %d id '%s' error '%s'", gc->text,
                     rc, g.id, err, gc->rc, gc->id, gc->want);
        if (rc == 0) {
            assert_true(fabs(g.kw - 12.5) < 1e-6);
            assert_int_equal(g.expires_at_ms, 1772359500000LL);
        }
    }
    char id65[66];
    memset(id65, 'a', 65);
    id65[65] = '\0';
    assert_false(peer_id_valid(id65));
    id65[64] = '\0';
    assert_true(peer_id_valid(id65));
    assert_false(peer_id_valid("..."));
    assert_true(peer_id_valid(".a"));
}

static void refusals_give_spare_kw_when_they_can(void **unused)
{
    (void)unused;
    double spare;
    char text[256];
    const char *t =
        "{\"error\":\"not enough spare capacity\",\"code\":\"conflict\",\"spare_kw\":12.5}";
    assert_int_equal(peer_parse_refusal(t, strlen(t), &spare, text, sizeof text), 0);
    assert_true(spare == 12.5);
    assert_string_equal(text, "not enough spare capacity");
    t = "{\"error\":\"no\"}";
    assert_int_equal(peer_parse_refusal(t, strlen(t), &spare, text, sizeof text), -1);
    assert_true(isnan(spare));
    assert_string_equal(text, "no");
    t = "{\"error\":\"no\",\"spare_kw\":-3}";
    assert_int_equal(peer_parse_refusal(t, strlen(t), &spare, text, sizeof text), -1);
    assert_true(isnan(spare));
    t = "{\"spare_kw\":\"lots\"}";
    assert_int_equal(peer_parse_refusal(t, strlen(t), &spare, text, sizeof text), -1);
    assert_true(isnan(spare));
    assert_string_equal(text, "");
    t = "<html>409</html>";
    assert_int_equal(peer_parse_refusal(t, strlen(t), &spare, text, sizeof text), -1);
    assert_true(isnan(spare));
    assert_string_equal(text, "");
}

/* ---- a loopback peer ---- */

/* The first path segment of a request names what the server does: the
 * peer "good" has the URL http://127.0.0.1:PORT/good. */
struct server {
    int fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    char log[8192]; /* "METHOD PATH\n" of every request */
};

struct conn {
    struct server *srv;
    int fd;
};

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    write_all(fd, head, (size_t)n);
    write_all(fd, body, strlen(body));
}

static void capacity_of(int fd, const char *site)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"site\":\"%s\",\"accepting\":true,\"spare_kw\":80,\"power_headroom_kw\":200,"
             "\"cooling_headroom_kw\":100,\"reserved_kw\":0,\"ingress\":\"198.51.100.9\","
             "\"as_of\":\"2026-03-01T10:00:00Z\"}",
             site);
    answer(fd, 200, body);
}

static void grant(int fd, const char *id_json, double kw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"id\":%s,\"kw\":%.17g," EXPIRES "}", id_json, kw);
    answer(fd, 201, body);
}

static void *serve_conn(void *arg)
{
    struct conn *c = arg;
    char buf[8192];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(c->fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        size_t want = 0;
        const char *cl = strcasestr(buf, "Content-Length:");
        if (cl && cl < end)
            want = (size_t)strtoul(cl + 15, NULL, 10);
        if (got >= (size_t)(end + 4 - buf) + want)
            break;
    }
    buf[got] = '\0';
    char method[16] = "", path[256] = "";
    sscanf(buf, "%15s %255s", method, path);
    pthread_mutex_lock(&c->srv->lock);
    size_t used = strlen(c->srv->log);
    snprintf(c->srv->log + used, sizeof c->srv->log - used, "%s %s\n", method, path);
    pthread_mutex_unlock(&c->srv->lock);
    char peer[64] = "";
    sscanf(path, "/%63[^/]", peer);
    const char *rest = path + 1 + strlen(peer);
    const char *body = strstr(buf, "\r\n\r\n");
    const char *kwp = body ? strstr(body, "\"kw\":") : NULL;
    double kw = kwp ? strtod(kwp + 5, NULL) : 0;
    bool capacity = strcmp(rest, "/v1/capacity") == 0;
    bool reserve = strcmp(method, "POST") == 0 && strcmp(rest, "/v1/reservations") == 0;
    bool release = strcmp(method, "DELETE") == 0 && strncmp(rest, "/v1/reservations/", 17) == 0;

    if (strcmp(peer, "slow") == 0) {
        for (int i = 0; i < 30 && !c->srv->stop; i++)
            usleep(50 * 1000);
        capacity_of(c->fd, peer);
    } else if (strcmp(peer, "auth") == 0 && !strstr(buf, "Authorization: Bearer right-token\r\n")) {
        answer(c->fd, 401,
               "{\"error\":\"the bearer token is not valid\",\"code\":\"unauthorized\"}");
    } else if (strcmp(peer, "down") == 0) {
        answer(c->fd, 503, "<html>Service Unavailable</html>");
    } else if (strcmp(peer, "html") == 0) {
        answer(c->fd, 200, "<html>hello</html>");
    } else if (strcmp(peer, "big") == 0) {
        char *big = malloc(70001);
        memset(big, ' ', 70000);
        big[0] = '{';
        big[69999] = '}';
        big[70000] = '\0';
        answer(c->fd, capacity ? 200 : 201, big);
        free(big);
    } else if (capacity) {
        capacity_of(c->fd, strcmp(peer, "wrongsite") == 0 ? "lulea-1" : peer);
    } else if (reserve && strcmp(peer, "full") == 0) {
        answer(c->fd, 409,
               "{\"error\":\"not enough spare capacity\",\"code\":\"conflict\",\"spare_kw\":7.5}");
    } else if (reserve && strcmp(peer, "full-odd") == 0) {
        answer(c->fd, 409, "{\"error\":\"busy\"}");
    } else if (reserve && strcmp(peer, "short") == 0) {
        grant(c->fd, "\"r-9\"", kw / 2);
    } else if (reserve && strcmp(peer, "badid") == 0) {
        grant(c->fd, "\"../../v1/x\"", kw);
    } else if (reserve && strcmp(peer, "dots") == 0) {
        grant(c->fd, "\"..\"", kw);
    } else if (reserve && strcmp(peer, "numid") == 0) {
        grant(c->fd, "42", kw);
    } else if (reserve && strcmp(peer, "broken") == 0) {
        answer(c->fd, 500, "{\"error\":\"database is locked\"}");
    } else if (reserve) {
        grant(c->fd, "\"r-1\"", kw);
    } else if (release && strcmp(peer, "gone") == 0) {
        answer(c->fd, 404, "{\"error\":\"no such reservation\"}");
    } else if (release && strcmp(peer, "broken") == 0) {
        answer(c->fd, 500, "{\"error\":\"database is locked\"}");
    } else if (release) {
        answer(c->fd, 200, "{\"released\":true}");
    } else {
        answer(c->fd, 404, "{\"error\":\"no such endpoint\"}");
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!s->stop) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (s->stop) {
            close(fd);
            break;
        }
        struct conn *c = malloc(sizeof *c);
        c->srv = s;
        c->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, c);
        pthread_detach(t);
    }
    return NULL;
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 32) < 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, serve, s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct server *s = *state;
    s->stop = 1;
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    usleep(200 * 1000); /* let detached connection threads notice stop */
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

/* A peer named `name` served by s under /name (or at a closed port). */
struct test_peer {
    char url[128];
    struct cfg_peer p;
};

static void peer_at(struct test_peer *tp, const struct server *s, const char *name,
                    const char *token)
{
    snprintf(tp->url, sizeof tp->url, "http://127.0.0.1:%d/%s", s ? s->port : 0, name);
    tp->p = (struct cfg_peer){.name = (char *)name, .url = tp->url, .token = (char *)token};
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* Takes the request log (out: size n; NULL just clears it). */
static void server_log(struct server *s, char *out, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (out)
        util_strlcpy(out, s->log, n);
    s->log[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

static void slow_peers_cost_one_timeout_not_the_sum(void **state)
{
    struct server *s = *state;
    struct test_peer tp[5];
    peer_at(&tp[0], s, "good", "t");
    for (int i = 1; i < 5; i++)
        peer_at(&tp[i], s, "slow", "t");
    struct cfg_peer peers[5];
    for (int i = 0; i < 5; i++)
        peers[i] = tp[i].p;
    struct peer_capacity_result res[5];
    int64_t t0 = util_mono_ms();
    assert_int_equal(peer_capacity_poll(peers, 5, 500, res), 1);
    int64_t took = util_mono_ms() - t0;
    /* four peers of 500 ms each would be 2 s one after another */
    assert_true(took >= 450 && took < 1500);
    assert_int_equal(res[0].state, PEER_OK);
    assert_string_equal(res[0].name, "good");
    assert_string_equal(res[0].reason, "");
    assert_true(res[0].cap.spare_kw == 80);
    assert_true(res[0].latency_ms < 450); /* the fast one did not wait for the slow ones */
    assert_int_equal(res[0].http_status, 200);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(res[i].state, PEER_UNREACHABLE);
        char want[256];
        snprintf(want, sizeof want, "unreachable: %s/v1/capacity: no answer within 500 ms",
                 tp[i].url);
        assert_string_equal(res[i].reason, want);
        assert_int_equal(res[i].http_status, 0);
    }
}

static void each_failure_is_named(void **state)
{
    struct server *s = *state;
    struct test_peer tp[7];
    peer_at(&tp[0], s, "auth", "wrong-token");
    peer_at(&tp[1], s, "auth", "right-token");
    peer_at(&tp[2], s, "html", "t");
    peer_at(&tp[3], s, "wrongsite", "t");
    peer_at(&tp[4], s, "big", "t");
    peer_at(&tp[5], s, "down", "t");
    peer_at(&tp[6], NULL, "closed", "t");
    snprintf(tp[6].url, sizeof tp[6].url, "http://127.0.0.1:%d/", closed_port());
    /* a trailing slash in the configured URL makes no "//" */
    snprintf(tp[1].url + strlen(tp[1].url), sizeof tp[1].url - strlen(tp[1].url), "/");
    struct cfg_peer peers[7];
    for (int i = 0; i < 7; i++)
        peers[i] = tp[i].p;
    struct peer_capacity_result res[7];
    assert_int_equal(peer_capacity_poll(peers, 7, 2000, res), 1);
    assert_int_equal(res[0].state, PEER_REFUSED);
    assert_string_equal(res[0].reason, "refused: HTTP 401: the bearer token is not valid");
    assert_int_equal(res[0].http_status, 401);
    assert_int_equal(res[1].state, PEER_OK); /* the bearer token is sent */
    assert_int_equal(res[2].state, PEER_GARBAGE);
    assert_string_equal(res[2].reason, "garbage answer: not JSON at byte 0");
    assert_int_equal(res[3].state, PEER_GARBAGE);
    assert_string_equal(res[3].reason, "garbage answer: site is 'lulea-1', expected 'wrongsite'");
    assert_int_equal(res[4].state, PEER_GARBAGE);
    assert_string_equal(res[4].reason, "garbage answer: larger than the 64 KiB an answer may have");
    assert_int_equal(res[5].state, PEER_REFUSED);
    assert_string_equal(res[5].reason, "refused: HTTP 503");
    assert_int_equal(res[6].state, PEER_UNREACHABLE);
    char want[256];
    snprintf(want, sizeof want, "unreachable: %sv1/capacity: ", tp[6].url);
    assert_memory_equal(res[6].reason, want, strlen(want));
    char log[8192];
    server_log(s, log, sizeof log);
    assert_non_null(strstr(log, "GET /auth/v1/capacity\n"));
    assert_null(strstr(log, "//v1"));
    assert_int_equal(peer_capacity_poll(peers, 0, 2000, res), 0);
}

/* Runs fn with stderr going to a file; returns what was written (caller
 * frees). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/floe-test-peer-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len;
    char err[256];
    char *text = util_read_file(path, &len, err, sizeof err);
    assert_non_null(text);
    close(fd);
    unlink(path);
    return text;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

struct ask {
    struct cfg_peer peers[3];
    struct peer_capacity_result res[3];
    bool quiet;
};

static void ask_all(void *arg)
{
    struct ask *a = arg;
    if (a->quiet)
        peer_capacity_poll(a->peers, 3, 2000, a->res);
    else
        peer_capacity_all(a->peers, 3, 2000, a->res);
}

static void each_skipped_peer_is_logged_once(void **state)
{
    struct server *s = *state;
    struct test_peer tp[3];
    peer_at(&tp[0], s, "good", "t");
    peer_at(&tp[1], s, "html", "t");
    peer_at(&tp[2], s, "auth", "wrong-token");
    struct ask a = {.quiet = false};
    for (int i = 0; i < 3; i++)
        a.peers[i] = tp[i].p;
    char *log = capture_stderr(ask_all, &a);
    assert_int_equal(
        count_lines_with(log, "peer html: skipped: garbage answer: not JSON at byte 0\n"), 1);
    assert_int_equal(
        count_lines_with(log,
                         "peer auth: skipped: refused: HTTP 401: the bearer token is not valid\n"),
        1);
    assert_int_equal(count_lines_with(log, "peer good"), 0);
    assert_int_equal(count_lines_with(log, "wrong-token"), 0); /* never a secret */
    free(log);
    a.quiet = true;
    log = capture_stderr(ask_all, &a);
    assert_string_equal(log, "");
    free(log);
}

static void a_reservation_is_granted_with_what_was_asked(void **state)
{
    struct server *s = *state;
    struct test_peer tp;
    peer_at(&tp, s, "good", "peer-secret");
    struct peer_reservation r;
    server_log(s, NULL, 0);
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12.5, 300, 2000, &r), 0);
    assert_int_equal(r.outcome, PEER_GRANTED);
    assert_string_equal(r.grant.id, "r-1");
    assert_true(r.grant.kw == 12.5);
    assert_int_equal(r.grant.expires_at_ms, 1772359500000LL);
    assert_int_equal(r.http_status, 201);
    assert_string_equal(r.reason, "");
    char log[8192];
    server_log(s, log, sizeof log);
    assert_string_equal(log, "POST /good/v1/reservations\n");

    peer_at(&tp, s, "numid", "t");
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 3, 300, 2000, &r), 0);
    assert_string_equal(r.grant.id, "42");
}

static void a_full_peer_refuses_with_its_spare_kw(void **state)
{
    struct server *s = *state;
    struct test_peer tp;
    peer_at(&tp, s, "full", "t");
    struct peer_reservation r;
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12.5, 300, 2000, &r), -1);
    assert_int_equal(r.outcome, PEER_RESERVE_REFUSED);
    assert_true(r.spare_kw == 7.5);
    assert_int_equal(r.http_status, 409);
    assert_string_equal(r.reason, "refused: HTTP 409: not enough spare capacity (spare 7.5 kW)");

    peer_at(&tp, s, "full-odd", "t");
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12.5, 300, 2000, &r), -1);
    assert_int_equal(r.outcome, PEER_RESERVE_REFUSED);
    assert_true(isnan(r.spare_kw));
    assert_string_equal(r.reason, "refused: HTTP 409: busy (no valid spare_kw in the answer)");

    peer_at(&tp, s, "broken", "t");
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12.5, 300, 2000, &r), -1);
    assert_int_equal(r.outcome, PEER_RESERVE_ERROR);
    assert_string_equal(r.reason, "refused: HTTP 500: database is locked");
}

static void a_grant_of_another_kw_is_released(void **state)
{
    struct server *s = *state;
    struct test_peer tp;
    peer_at(&tp, s, "short", "t");
    struct peer_reservation r;
    server_log(s, NULL, 0);
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12, 300, 2000, &r), -1);
    assert_int_equal(r.outcome, PEER_RESERVE_ERROR);
    assert_string_equal(r.reason, "garbage answer: kw is 6, asked 12; released reservation r-9");
    char log[8192];
    server_log(s, log, sizeof log);
    assert_string_equal(log, "POST /short/v1/reservations\nDELETE /short/v1/reservations/r-9\n");
}

static void a_grant_with_an_unusable_id_is_left_to_expire(void **state)
{
    struct server *s = *state;
    const char *peers[] = {"badid", "dots", "big"};
    const char *whys[] = {
        "garbage answer: id '../../v1/x' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, "
        "not only dots); not released (no usable id): it expires after 300s",
        "garbage answer: id '..' is not a reservation id (1 to 64 of A-Z a-z 0-9 . _ -, not only "
        "dots); not released (no usable id): it expires after 300s",
        "garbage answer: larger than the 64 KiB an answer may have; not released (no usable id): "
        "it expires after 300s",
    };
    for (size_t i = 0; i < ARRAY_LEN(peers); i++) {
        struct test_peer tp;
        peer_at(&tp, s, peers[i], "t");
        struct peer_reservation r;
        server_log(s, NULL, 0);
        assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 12, 300, 2000, &r), -1);
        assert_int_equal(r.outcome, PEER_RESERVE_ERROR);
        assert_string_equal(r.reason, whys[i]);
        char log[8192], want[128];
        server_log(s, log, sizeof log);
        snprintf(want, sizeof want, "POST /%s/v1/reservations\n", peers[i]);
        assert_string_equal(log, want); /* no DELETE */
    }
}

static void bad_arguments_and_unreachable_peers_send_nothing_useful(void **state)
{
    struct server *s = *state;
    struct test_peer tp;
    peer_at(&tp, s, "good", "t");
    struct peer_reservation r;
    server_log(s, NULL, 0);
    const double kws[] = {0, -1, NAN, INFINITY, 2e7};
    for (size_t i = 0; i < ARRAY_LEN(kws); i++) {
        assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", kws[i], 300, 2000, &r), -1);
        assert_int_equal(r.outcome, PEER_RESERVE_ERROR);
        assert_non_null(strstr(r.reason, "not asked"));
    }
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 5, 0, 2000, &r), -1);
    assert_int_equal(peer_reserve(&tp.p, "", "shop", 5, 60, 2000, &r), -1);
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", NULL, 5, 60, 2000, &r), -1);
    char log[8192];
    server_log(s, log, sizeof log);
    assert_string_equal(log, "");

    snprintf(tp.url, sizeof tp.url, "http://127.0.0.1:%d", closed_port());
    assert_int_equal(peer_reserve(&tp.p, "lulea-1", "shop", 5, 60, 2000, &r), -1);
    assert_int_equal(r.outcome, PEER_RESERVE_ERROR);
    assert_int_equal(strncmp(r.reason, "unreachable: ", 13), 0);
    char err[256];
    assert_int_equal(peer_release(&tp.p, "r-1", 2000, err, sizeof err), -1);
    assert_int_equal(strncmp(err, "unreachable: ", 13), 0);
}

static void release_counts_404_as_released(void **state)
{
    struct server *s = *state;
    struct test_peer tp;
    char err[256] = "";
    char log[8192];
    server_log(s, log, sizeof log);
    peer_at(&tp, s, "good", "t");
    assert_int_equal(peer_release(&tp.p, "r-1", 2000, err, sizeof err), 0);
    peer_at(&tp, s, "gone", "t");
    assert_int_equal(peer_release(&tp.p, "r-2", 2000, err, sizeof err), 0);
    peer_at(&tp, s, "broken", "t");
    assert_int_equal(peer_release(&tp.p, "r-3", 2000, err, sizeof err), -1);
    assert_string_equal(err, "refused: HTTP 500: database is locked");
    /* ids that would leave /v1/reservations/ are never sent */
    assert_int_equal(peer_release(&tp.p, "..", 2000, err, sizeof err), -1);
    assert_string_equal(err, "not sent: not a valid reservation id");
    assert_int_equal(peer_release(&tp.p, "a/b", 2000, err, sizeof err), -1);
    assert_int_equal(peer_release(&tp.p, NULL, 2000, err, sizeof err), -1);
    server_log(s, log, sizeof log);
    assert_string_equal(log, "DELETE /good/v1/reservations/r-1\nDELETE /gone/v1/reservations/r-2\n"
                             "DELETE /broken/v1/reservations/r-3\n");
}

int main(void)
{
    httpc_global_init();
    log_init(LOG_LVL_INFO);
    const struct CMUnitTest parsers[] = {
        cmocka_unit_test(a_good_capacity_answer_is_read_whole),
        cmocka_unit_test(acceptable_variants_are_accepted),
        cmocka_unit_test(every_field_wrong_in_turn_is_garbage_naming_it),
        cmocka_unit_test(texts_that_are_not_one_object_are_garbage),
        cmocka_unit_test(truncation_at_every_byte_is_garbage),
        cmocka_unit_test(nul_bytes_deep_nesting_and_size_are_garbage),
        cmocka_unit_test(a_peers_text_is_cleaned_before_it_is_quoted),
        cmocka_unit_test(grants_follow_the_id_and_kw_rules),
        cmocka_unit_test(refusals_give_spare_kw_when_they_can),
    };
    const struct CMUnitTest client[] = {
        cmocka_unit_test(slow_peers_cost_one_timeout_not_the_sum),
        cmocka_unit_test(each_failure_is_named),
        cmocka_unit_test(each_skipped_peer_is_logged_once),
        cmocka_unit_test(a_reservation_is_granted_with_what_was_asked),
        cmocka_unit_test(a_full_peer_refuses_with_its_spare_kw),
        cmocka_unit_test(a_grant_of_another_kw_is_released),
        cmocka_unit_test(a_grant_with_an_unusable_id_is_left_to_expire),
        cmocka_unit_test(bad_arguments_and_unreachable_peers_send_nothing_useful),
        cmocka_unit_test(release_counts_404_as_released),
    };
    int failed = cmocka_run_group_tests_name("parsers", parsers, NULL, NULL);
    failed += cmocka_run_group_tests_name("client", client, setup, teardown);
    return failed;
}
