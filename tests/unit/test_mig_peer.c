/*
 * test_mig_peer — the source's import client (SPEC 5 imports).
 *
 * The answer parser as a table: every phase, the id as a string or a
 * number, a bare {"id"} (POST's answer), failed with and without its
 * error, the restore figures; then what is garbage with what the message
 * says (bad or missing phase or id, a member twice, wrong types, figures
 * out of range, not one object, over 64 KiB). The request body's exact
 * shape, its additions only when asked, and what is refused before
 * anything is sent. Then the three requests against a loopback server
 * run by the test, which answers what the test sets: method, path, token
 * and body as sent; 202, a 409 refusal with its text, an unreachable
 * peer, an answer naming another import, a DELETE answered 404.
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

#include "lib/util.h"
#include "migrator/mig_peer.h"

/* ---- parsing ---- */

static void parse_ok(const char *text, struct mig_import_status *st)
{
    char err[256] = "";
    if (mig_import_parse(text, strlen(text), st, err, sizeof err) != 0)
        fail_msg("'%s' refused: %s", text, err);
}

static void every_phase_is_read(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum mig_import_phase phase;
    } phases[] = {
        {"waiting-backup", MIG_IMPORT_WAITING_BACKUP},
        {"restoring", MIG_IMPORT_RESTORING},
        {"starting", MIG_IMPORT_STARTING},
        {"ready", MIG_IMPORT_READY},
        {"failed", MIG_IMPORT_FAILED},
    };
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"id\":\"imp-7\",\"phase\":\"%s\",\"error\":\"boom\"}",
                 phases[i].name);
        struct mig_import_status st;
        parse_ok(text, &st);
        assert_string_equal(st.id, "imp-7");
        assert_int_equal(st.phase, phases[i].phase);
        assert_string_equal(mig_import_phase_name(st.phase), phases[i].name);
        assert_int_equal(mig_import_phase_parse(phases[i].name), (int)phases[i].phase);
        /* the error is the failure's only */
        assert_string_equal(st.error, phases[i].phase == MIG_IMPORT_FAILED ? "boom" : "");
        assert_true(isnan(st.restore_s) && isnan(st.restored_bytes));
    }
    assert_int_equal(mig_import_phase_parse("Ready"), -1);
    assert_int_equal(mig_import_phase_parse(""), -1);
}

static void variants_a_target_may_send_are_read(void **state)
{
    (void)state;
    struct mig_import_status st;
    /* POST's 202 {"id"}: waiting for the backup */
    parse_ok("{\"id\":\"imp-1\"}", &st);
    assert_string_equal(st.id, "imp-1");
    assert_int_equal(st.phase, MIG_IMPORT_WAITING_BACKUP);
    parse_ok(" {\"id\": 42, \"phase\": \"restoring\", \"kw\": 12, \"extra\": [1]}\n", &st);
    assert_string_equal(st.id, "42");
    assert_int_equal(st.phase, MIG_IMPORT_RESTORING);
    parse_ok("{\"id\":\"a\",\"phase\":\"failed\"}", &st);
    assert_string_equal(st.error, "the target gave no reason");
    parse_ok("{\"id\":\"a\",\"phase\":\"failed\",\"error\":null}", &st);
    assert_string_equal(st.error, "the target gave no reason");
    parse_ok("{\"id\":\"a\",\"phase\":\"failed\",\"error\":\"restore failed:\\n\\u001b[31mred\"}",
             &st);
    assert_string_equal(st.error, "restore failed:??[31mred");
    parse_ok("{\"id\":\"a\",\"phase\":\"ready\",\"restore_s\":512.5,\"restored_bytes\":4e10}", &st);
    assert_true(st.restore_s == 512.5 && st.restored_bytes == 4e10);
    parse_ok("{\"id\":\"a\",\"phase\":\"ready\",\"restore_s\":null,\"restored_bytes\":0}", &st);
    assert_true(isnan(st.restore_s) && st.restored_bytes == 0);
}

static void unusable_answers_are_refused_naming_what_is_wrong(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"phase\":\"ready\"}", "id is missing"},
        {"{\"id\":\"\",\"phase\":\"ready\"}", "id '' is not an import id"},
        {"{\"id\":\"..\",\"phase\":\"ready\"}", "id '..' is not an import id"},
        {"{\"id\":\"a/b\"}", "id 'a/b' is not an import id"},
        {"{\"id\":1.5}", "id 1.5 is not a whole number from 0 to 2^53"},
        {"{\"id\":true}", "id is not a string or number (a bool)"},
        {"{\"id\":\"a\",\"id\":\"b\"}", "id is given 2 times"},
        {"{\"id\":\"a\",\"phase\":\"done\"}",
         "phase 'done' is not one of waiting-backup, restoring, starting, ready, failed"},
        {"{\"id\":\"a\",\"phase\":\"Ready\"}",
         "phase 'Ready' is not one of waiting-backup, restoring, starting, ready, failed"},
        {"{\"id\":\"a\",\"phase\":3}", "phase is not a string (a number)"},
        {"{\"id\":\"a\",\"phase\":\"ready\",\"phase\":\"failed\"}",
         "phase is given more than once"},
        {"{\"id\":\"a\",\"phase\":\"failed\",\"error\":{}}",
         "error is not a string or null (an object)"},
        {"{\"id\":\"a\",\"restore_s\":-1}", "restore_s is -1, not within 0..1e+07"},
        {"{\"id\":\"a\",\"restored_bytes\":\"4 GB\"}",
         "restored_bytes is not a number or null (a string)"},
        {"{\"id\":\"a\",\"restore_s\":1e400}", "restore_s is inf, not within 0..1e+07"},
        {"[{\"id\":\"a\"}]", "not a JSON object but an array"},
        {"\"ready\"", "not a JSON object but a string"},
        {"", "empty answer"},
        {"{\"id\":\"a\"", "not JSON at byte"},
        {"{\"id\":\"a\"} {}", "not JSON at byte 11 (more after the value)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mig_import_status st;
        memset(&st, 0x5a, sizeof st);
        char err[256] = "";
        int rc = mig_import_parse(cases[i].text, strlen(cases[i].text), &st, err, sizeof err);
        if (rc != -1 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu '%s': rc %d, err '%s', want '%s'", i, cases[i].text, rc, err,
                     cases[i].want);
    }
    /* over 64 KiB, even when it is a valid object */
    size_t n = PEER_ANSWER_MAX + 100;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"id\":\"a\"}", 10);
    big[n] = '\0';
    struct mig_import_status st;
    char err[256] = "";
    assert_int_equal(mig_import_parse(big, n, &st, err, sizeof err), -1);
    assert_string_equal(err, "65636 bytes, over the 64 KiB an answer may have");
    free(big);
    /* a NUL byte inside, and a text not NUL-terminated read within its length */
    assert_int_equal(mig_import_parse("{\"id\":\"a\"}\0x", 12, &st, err, sizeof err), -1);
    assert_string_equal(err, "not JSON at byte 10 (a NUL byte)");
    assert_int_equal(mig_import_parse("{\"id\":\"ab\"}", 9, &st, err, sizeof err), -1);
}

/* ---- the request ---- */

static const struct mig_import_replica shop_replicas[] = {
    {"deployment/web", 3},
    {"statefulset/db", 1},
};

static struct mig_import_request shop_request(void)
{
    struct mig_import_request r = {
        .reservation = "rsv-12",
        .workload = "shop",
        .namespace_ = "shop",
        .backup = "floe-lulea-1-shop-7-3",
        .replicas = shop_replicas,
        .nreplicas = 2,
    };
    return r;
}

static void the_request_has_spec_5s_shape(void **state)
{
    (void)state;
    struct mig_import_request r = shop_request();
    char err[256] = "";
    char *json = mig_import_request_json(&r, err, sizeof err);
    assert_non_null(json);
    assert_string_equal(json, "{\"reservation\":\"rsv-12\",\"workload\":\"shop\",\"namespace\":"
                              "\"shop\",\"backup\":\"floe-lulea-1-shop-7-3\",\"stateless\":false,"
                              "\"replicas\":{\"deployment/web\":3,\"statefulset/db\":1}}");
    free(json);

    r.stateless = true;
    r.nreplicas = 0;
    r.replicas = NULL;
    r.incremental = true;
    json = mig_import_request_json(&r, err, sizeof err);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"stateless\":true,\"replicas\":{},\"incremental\":true}"));
    assert_null(strstr(json, "prestage"));
    free(json);

    r.incremental = false;
    r.prestage = true;
    json = mig_import_request_json(&r, err, sizeof err);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"replicas\":{},\"prestage\":true}"));
    assert_null(strstr(json, "incremental"));
    free(json);
}

static void a_request_that_cannot_be_right_is_refused(void **state)
{
    (void)state;
    struct mig_import_replica twice[] = {{"deployment/web", 3}, {"deployment/web", 2}};
    struct mig_import_replica bad_kind[] = {{"daemonset/agent", 1}};
    struct mig_import_replica bad_name[] = {{"deployment/Web", 1}};
    struct mig_import_replica negative[] = {{"statefulset/db", -1}};
    struct mig_import_replica many[MIG_IMPORT_MAX_REPLICAS + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
        snprintf(many[i].key, sizeof many[i].key, "deployment/d%zu", i);
        many[i].replicas = 1;
    }
    struct {
        struct mig_import_request r;
        const char *want;
    } cases[9];
    for (size_t i = 0; i < 9; i++)
        cases[i].r = shop_request();
    cases[0].r.reservation = "../x";
    cases[0].want = "reservation is not a reservation id";
    cases[1].r.namespace_ = "Shop";
    cases[1].want = "namespace 'Shop' is not a Kubernetes namespace name";
    cases[2].r.backup = "";
    cases[2].want = "backup '' is not a Velero object name";
    cases[3].r.replicas = twice;
    cases[3].want = "replicas[1] deployment/web is given twice";
    cases[4].r.replicas = bad_kind;
    cases[4].r.nreplicas = 1;
    cases[4].want = "replicas[0] 'daemonset/agent' is not deployment/NAME or statefulset/NAME";
    cases[5].r.replicas = bad_name;
    cases[5].r.nreplicas = 1;
    cases[5].want = "replicas[0] 'deployment/Web' is not deployment/NAME or statefulset/NAME";
    cases[6].r.replicas = negative;
    cases[6].r.nreplicas = 1;
    cases[6].want = "replicas[0] statefulset/db is negative (-1)";
    cases[7].r.replicas = many;
    cases[7].r.nreplicas = MIG_IMPORT_MAX_REPLICAS + 1;
    cases[7].want = "65 replica counts, at most 64";
    cases[8].r.incremental = cases[8].r.prestage = true;
    cases[8].want = "an import is either a prestage or an incremental restore";
    for (size_t i = 0; i < 9; i++) {
        char err[256] = "";
        char *json = mig_import_request_json(&cases[i].r, err, sizeof err);
        if (json || strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu: got %s / '%s', want '%s'", i, json ? json : "NULL", err,
                     cases[i].want);
    }
}

/* ---- the requests against a loopback server ---- */

struct server {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    int status; /* what to answer */
    char answer[512];
    char last[4096]; /* the last request, head and body */
};

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!s->stop) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096];
        size_t got = 0;
        for (;;) {
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (!end)
                continue;
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
            if (got >= (size_t)(end + 4 - buf) + want)
                break;
        }
        buf[got] = '\0';
        char out[1024];
        pthread_mutex_lock(&s->lock);
        snprintf(s->last, sizeof s->last, "%s", buf);
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                         "%zu\r\nConnection: close\r\n\r\n%s",
                         s->status, strlen(s->answer), s->answer);
        pthread_mutex_unlock(&s->lock);
        if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0) {
            /* the client gave up: nothing to do */
        }
        close(fd);
    }
    return NULL;
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 16) < 0)
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
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

static void answer(struct server *s, int status, const char *body)
{
    pthread_mutex_lock(&s->lock);
    s->status = status;
    snprintf(s->answer, sizeof s->answer, "%s", body);
    s->last[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

static bool sent(struct server *s, const char *part)
{
    pthread_mutex_lock(&s->lock);
    bool found = strstr(s->last, part) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}

static void an_import_is_started_watched_and_dropped(void **state)
{
    struct server *s = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
    struct cfg_peer peer = {.name = "falkenberg-1", .url = url, .token = "peer-token"};
    struct mig_import_request r = shop_request();
    struct mig_import_status st;
    long status = -1;
    char err[PEER_REASON_MAX] = "";

    answer(s, 202, "{\"id\":\"imp-9\"}");
    assert_int_equal(mig_peer_import_start(&peer, &r, 2000, &st, &status, err, sizeof err), 0);
    assert_int_equal(status, 202);
    assert_string_equal(st.id, "imp-9");
    assert_int_equal(st.phase, MIG_IMPORT_WAITING_BACKUP);
    assert_true(sent(s, "POST /v1/imports HTTP/1.1\r\n"));
    assert_true(sent(s, "Authorization: Bearer peer-token\r\n"));
    assert_true(sent(s, "\r\n\r\n{\"reservation\":\"rsv-12\",\"workload\":\"shop\","));

    answer(s, 200, "{\"id\":\"imp-9\",\"phase\":\"ready\",\"restore_s\":41}");
    assert_int_equal(mig_peer_import_get(&peer, "imp-9", 2000, &st, &status, err, sizeof err), 0);
    assert_true(sent(s, "GET /v1/imports/imp-9 HTTP/1.1\r\n"));
    assert_int_equal(st.phase, MIG_IMPORT_READY);
    assert_true(st.restore_s == 41);

    answer(s, 204, "");
    assert_int_equal(mig_peer_import_drop(&peer, "imp-9", 2000, &status, err, sizeof err), 0);
    assert_int_equal(status, 204);
    assert_true(sent(s, "DELETE /v1/imports/imp-9 HTTP/1.1\r\n"));
    answer(s, 404, "{\"error\":\"no such import\"}");
    assert_int_equal(mig_peer_import_drop(&peer, "imp-9", 2000, &status, err, sizeof err), 0);
    assert_int_equal(status, 404);
}

static void refusals_garbage_and_silence_are_told_apart(void **state)
{
    struct server *s = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    struct cfg_peer peer = {.name = "falkenberg-1", .url = url, .token = "peer-token"};
    struct mig_import_request r = shop_request();
    struct mig_import_status st;
    long status = -1;
    char err[PEER_REASON_MAX] = "";

    answer(s, 409, "{\"error\":\"reservation rsv-12 has expired\"}");
    assert_int_equal(mig_peer_import_start(&peer, &r, 2000, &st, &status, err, sizeof err), -1);
    assert_int_equal(status, 409);
    assert_string_equal(err, "refused: HTTP 409: reservation rsv-12 has expired");

    answer(s, 202, "{\"id\":\"imp-9\",\"phase\":\"restored\"}");
    assert_int_equal(mig_peer_import_start(&peer, &r, 2000, &st, &status, err, sizeof err), -1);
    assert_int_equal(status, 202);
    assert_string_equal(err, "garbage answer: phase 'restored' is not one of waiting-backup, "
                             "restoring, starting, ready, failed");

    /* GET needs the phase, and of the import asked about */
    answer(s, 200, "{\"id\":\"imp-9\"}");
    assert_int_equal(mig_peer_import_get(&peer, "imp-9", 2000, &st, &status, err, sizeof err), -1);
    assert_string_equal(err, "garbage answer: phase is missing");
    answer(s, 200, "{\"id\":\"imp-8\",\"phase\":\"ready\"}");
    assert_int_equal(mig_peer_import_get(&peer, "imp-9", 2000, &st, &status, err, sizeof err), -1);
    assert_string_equal(err, "garbage answer: id is 'imp-8', asked 'imp-9'");

    answer(s, 500, "{\"error\":\"velero is down\"}");
    assert_int_equal(mig_peer_import_drop(&peer, "imp-9", 2000, &status, err, sizeof err), -1);
    assert_string_equal(err, "refused: HTTP 500: velero is down");

    /* not sent: a bad id, a bad request */
    answer(s, 200, "{}");
    assert_int_equal(mig_peer_import_get(&peer, "../v1", 2000, &st, &status, err, sizeof err), -1);
    assert_int_equal(status, 0);
    assert_string_equal(err, "not sent: not a valid import id");
    r.namespace_ = "";
    assert_int_equal(mig_peer_import_start(&peer, &r, 2000, &st, &status, err, sizeof err), -1);
    assert_string_equal(err, "not sent: namespace '' is not a Kubernetes namespace name");
    assert_false(sent(s, "HTTP/1.1"));

    /* nobody listening: status 0, unreachable naming the URL */
    struct cfg_peer gone = {.name = "gone", .url = "http://127.0.0.1:1", .token = "t"};
    assert_int_equal(mig_peer_import_drop(&gone, "imp-9", 2000, &status, err, sizeof err), -1);
    assert_int_equal(status, 0);
    assert_non_null(strstr(err, "unreachable: http://127.0.0.1:1/v1/imports/imp-9: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_phase_is_read),
        cmocka_unit_test(variants_a_target_may_send_are_read),
        cmocka_unit_test(unusable_answers_are_refused_naming_what_is_wrong),
        cmocka_unit_test(the_request_has_spec_5s_shape),
        cmocka_unit_test(a_request_that_cannot_be_right_is_refused),
        cmocka_unit_test_setup_teardown(an_import_is_started_watched_and_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_garbage_and_silence_are_told_apart, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
