/* Unit tests of agent/cfg_expr: expression errors carry the config path
 * and column; metrics nothing produces are warnings, not errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policies/cfg_expr.h"

static struct floe_config *load(const char *text)
{
    struct cfg_errors errs = { 0 };
    struct floe_config *cfg = cfg_load_buffer("t.json", text, strlen(text), NULL, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("unexpected load error: %s\n", errs.lines[i]);
    assert_int_equal(errs.n, 0);
    cfg_errors_clear(&errs);
    assert_non_null(cfg);
    return cfg;
}

#define SITE "\"site\": {\"name\": \"t\"}, "
#define DEVICE                                                                                     \
    "\"modbus\": [{\"name\": \"m\", \"host\": \"127.0.0.1\", \"points\": ["                         \
    "{\"metric\": \"it.load_kw\", \"table\": \"holding\", \"address\": 1},"                        \
    "{\"metric\": \"cooling.chiller1.capacity_kw\", \"table\": \"holding\", \"address\": 2}]}],"   \
    "\"snmp\": [{\"name\": \"pdu\", \"host\": \"127.0.0.1\", \"points\": ["                        \
    "{\"metric\": \"power.pdu1.outlet{index}_w\", \"walk\": \"1.3.6.1.4.1.99999.1.2\"}]}], "

static void unknown_function_names_policy_path_and_column(void **state)
{
    (void)state;
    struct floe_config *cfg = load("{" SITE DEVICE "\"policies\": ["
                                   "{\"name\": \"a\", \"when\": \"it.load_kw > 1\"},"
                                   "{\"name\": \"b\", \"when\": \"it.load_kw > 1\"},"
                                   "{\"name\": \"c\", \"when\": \"avgg(it.load_kw) > 1\"}]}");
    struct cfg_errors errs = { 0 }, warns = { 0 };
    assert_int_equal(cfg_check_expressions(cfg, &errs, &warns), -1);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.lines[0],
                        "t.json: policies[2].when: unknown function 'avgg' at column 1");
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warns);
    cfg_free(cfg);
}

static void bad_derive_expression_is_an_error(void **state)
{
    (void)state;
    struct floe_config *cfg =
        load("{" SITE DEVICE "\"derive\": [{\"metric\": \"cooling.capacity_kw\", \"expr\": \"sum(\"}]}");
    struct cfg_errors errs = { 0 }, warns = { 0 };
    assert_int_equal(cfg_check_expressions(cfg, &errs, &warns), -1);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.lines[0], "t.json: derive[0].expr: "));
    assert_non_null(strstr(errs.lines[0], "column"));
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warns);
    cfg_free(cfg);
}

static void unproduced_metric_is_a_warning_only(void **state)
{
    (void)state;
    struct floe_config *cfg = load(
        "{" SITE DEVICE
        "\"derive\": [{\"metric\": \"cooling.capacity_kw\", \"expr\": \"sum(cooling.*.capacity_kw)\"}],"
        "\"policies\": [{\"name\": \"a\", \"when\": \"cooling.capacity_kw < it.load_kw * 1.1"
        " || power.pdu1.outlet3_w > 100 || sum(power.pdu1.*) > 1 || power.supply_kw < 5\"}]}");
    struct cfg_errors errs = { 0 }, warns = { 0 };
    assert_int_equal(cfg_check_expressions(cfg, &errs, &warns), 0);
    assert_int_equal(errs.n, 0);
    /* Only power.supply_kw is produced by nothing: the derive, the walk row
     * and the glob over walk rows all count as produced. */
    assert_int_equal(warns.n, 1);
    assert_non_null(strstr(warns.lines[0], "t.json: policies[0].when: warning: metric 'power.supply_kw'"));
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warns);
    cfg_free(cfg);
}

/* A template with {index} twice gives "a3.b3" for row 3 (the collector
 * replaces every {index}); the check once saw no device producing it. */
static void every_index_of_a_walk_template_counts_as_produced(void **state)
{
    (void)state;
    struct floe_config *cfg = load(
        "{" SITE "\"snmp\": [{\"name\": \"pdu\", \"host\": \"127.0.0.1\", \"points\": ["
        "{\"metric\": \"pdu.a{index}.b{index}\", \"walk\": \"1.3.6.1.4.1.99999.1.2\"}]}], "
        "\"policies\": [{\"name\": \"a\", \"when\": \"pdu.a3.b3 > 1 || pdu.a3.b4 > 1\"}]}");
    struct cfg_errors errs = { 0 }, warns = { 0 };
    assert_int_equal(cfg_check_expressions(cfg, &errs, &warns), 0);
    for (size_t i = 0; i < warns.n; i++)
        print_message("  warning: %s\n", warns.lines[i]);
    /* Row 3 gives pdu.a3.b3; no row gives pdu.a3.b4. */
    assert_int_equal(warns.n, 1);
    assert_non_null(strstr(warns.lines[0], "metric 'pdu.a3.b4'"));
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warns);
    cfg_free(cfg);
}

/* check-config and the agent load through cfg_load_checked: the
 * loader's own warnings must reach them too. */
static void loader_warnings_reach_cfg_load_checked(void **state)
{
    (void)state;
    char path[] = "/tmp/floe-test-cfg-expr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{" SITE "\"modbus\": [{\"name\": \"m\", \"host\": \"127.0.0.1\", "
                       "\"points\": [{\"metric\": \"it.load_kw\", \"table\": \"holding\", "
                       "\"address\": 40001}]}]}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct cfg_errors errs = { 0 }, warns = { 0 };
    struct floe_config *cfg = cfg_load_checked(path, &errs, &warns);
    unlink(path);
    assert_non_null(cfg);
    assert_int_equal(errs.n, 0);
    assert_int_equal(warns.n, 1);
    assert_non_null(strstr(warns.lines[0], "modbus[0].points[0].address (metric it.load_kw): "
                                           "warning: 40001 looks like a register number"));
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warns);
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_function_names_policy_path_and_column),
        cmocka_unit_test(bad_derive_expression_is_an_error),
        cmocka_unit_test(unproduced_metric_is_a_warning_only),
        cmocka_unit_test(every_index_of_a_walk_template_counts_as_produced),
        cmocka_unit_test(loader_warnings_reach_cfg_load_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
