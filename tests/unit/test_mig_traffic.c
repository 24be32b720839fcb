/*
 * test_mig_traffic — the cut-over's bodies (pure) and the drivers that
 * need no server: the PowerDNS PATCH body exactly (A for IPv4, AAAA for
 * IPv6, the name absolute and lower case, the address canonical, the
 * TTL), names outside the zone or not DNS names and addresses that are no
 * IP address refused with what is wrong, the webhook body's shape and
 * JSON escaping, driver "none" sending nothing. The drivers against a
 * real PowerDNS and a webhook receiver: tests/integration/traffic_pdns.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrator/mig_traffic.h"

static const struct mig_traffic_switch shop = {
    .workload = "shop",
    .hostname = "shop.apps.example.org",
    .address = "198.51.100.7",
    .from_site = "lulea-1",
    .to_site = "falkenberg-1",
};

static void an_ipv4_address_gives_an_A_rrset_replaced_with_the_ttl(void **state)
{
    (void)state;
    char err[256] = "";
    char *body = mig_traffic_powerdns_body(&shop, "apps.example.org.", 30, err, sizeof err);
    assert_non_null(body);
    assert_string_equal(body, "{\"rrsets\":[{\"name\":\"shop.apps.example.org.\",\"type\":\"A\","
                              "\"ttl\":30,\"changetype\":\"REPLACE\",\"records\":[{\"content\":"
                              "\"198.51.100.7\",\"disabled\":false}]}]}");
    free(body);
}

static void an_ipv6_address_gives_AAAA_in_canonical_form(void **state)
{
    (void)state;
    struct mig_traffic_switch sw = shop;
    sw.address = "2001:DB8:0:0::7";
    char err[256] = "";
    char *body = mig_traffic_powerdns_body(&sw, "apps.example.org.", 3600, err, sizeof err);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"type\":\"AAAA\",\"ttl\":3600,"));
    assert_non_null(strstr(body, "\"content\":\"2001:db8::7\""));
    free(body);
}

static void a_trailing_dot_and_capitals_give_the_same_absolute_name(void **state)
{
    (void)state;
    const char *forms[] = {"shop.apps.example.org.", "Shop.Apps.Example.ORG",
                           "SHOP.apps.example.org."};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct mig_traffic_switch sw = shop;
        sw.hostname = forms[i];
        char err[256] = "";
        char *body = mig_traffic_powerdns_body(&sw, "Apps.Example.org.", 30, err, sizeof err);
        assert_non_null(body);
        assert_non_null(strstr(body, "\"name\":\"shop.apps.example.org.\""));
        free(body);
    }
    /* the zone's apex is inside the zone */
    struct mig_traffic_switch apex = shop;
    apex.hostname = "apps.example.org";
    char err[256] = "";
    char *body = mig_traffic_powerdns_body(&apex, "apps.example.org.", 30, err, sizeof err);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"name\":\"apps.example.org.\""));
    free(body);
}

struct refusal {
    const char *hostname, *address, *zone;
    int ttl;
    const char *want;
};

static void what_cannot_be_a_record_is_refused_naming_it(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        {"shop.other.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'shop.other.org.' is not in zone apps.example.org."},
        /* a suffix that is not a whole label is not inside */
        {"shopapps.example.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'shopapps.example.org.' is not in zone apps.example.org."},
        {"example.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'example.org.' is not in zone apps.example.org."},
        {"shop..apps.example.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'shop..apps.example.org' is not a DNS name"},
        {"shop\".apps.example.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'shop\".apps.example.org' is not a DNS name"},
        {"shop\n.apps.example.org", "198.51.100.7", "apps.example.org.", 30,
         "hostname 'shop?.apps.example.org' is not a DNS name"},
        {"", "198.51.100.7", "apps.example.org.", 30, "hostname '' is not a DNS name"},
        {".", "198.51.100.7", "apps.example.org.", 30, "hostname '.' is not a DNS name"},
        {"shop.apps.example.org", "ingress.falkenberg.example", "apps.example.org.", 30,
         "address 'ingress.falkenberg.example' is not an IPv4 or IPv6 address"},
        {"shop.apps.example.org", "198.51.100", "apps.example.org.", 30,
         "address '198.51.100' is not an IPv4 or IPv6 address"},
        {"shop.apps.example.org", "", "apps.example.org.", 30,
         "address '' is not an IPv4 or IPv6 address"},
        {"shop.apps.example.org", "198.51.100.7", "apps.example.org", 30,
         "zone 'apps.example.org' is not a DNS name ending in '.'"},
        {"shop.apps.example.org", "198.51.100.7", "apps/x.example.org.", 30,
         "zone 'apps/x.example.org.' is not a DNS name ending in '.'"},
        {"shop.apps.example.org", "198.51.100.7", "apps.example.org.", 0,
         "ttl 0 is not within 1..86400"},
        {"shop.apps.example.org", "198.51.100.7", "apps.example.org.", 86401,
         "ttl 86401 is not within 1..86400"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mig_traffic_switch sw = shop;
        sw.hostname = cases[i].hostname;
        sw.address = cases[i].address;
        char err[256] = "";
        char *body = mig_traffic_powerdns_body(&sw, cases[i].zone, cases[i].ttl, err, sizeof err);
        if (body || strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu (%s): got %s / '%s', want '%s'", i, cases[i].hostname,
                     body ? body : "NULL", err, cases[i].want);
    }
    /* a label over 63 characters */
    char longname[128];
    memset(longname, 'a', 64);
    snprintf(longname + 64, sizeof longname - 64, ".apps.example.org");
    struct mig_traffic_switch sw = shop;
    sw.hostname = longname;
    char err[256] = "";
    assert_null(mig_traffic_powerdns_body(&sw, "apps.example.org.", 30, err, sizeof err));
    assert_non_null(strstr(err, "is not a DNS name"));
}

static void the_webhook_body_carries_every_field_escaped(void **state)
{
    (void)state;
    struct mig_traffic_switch sw = {
        .workload = "shop \"eu\"\\\n",
        .hostname = "shop.apps.example.org.",
        .address = "ingress.falkenberg.example",
        .from_site = "lulea-1",
        .to_site = "falkenberg-1",
    };
    char err[256] = "";
    char *body = mig_traffic_webhook_body(&sw, 60, err, sizeof err);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"workload\":\"shop \\\"eu\\\"\\\\\\n\""));
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "workload")->valuestring, sw.workload);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "hostname")->valuestring,
                        "shop.apps.example.org");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "address")->valuestring,
                        "ingress.falkenberg.example");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "from")->valuestring, "lulea-1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "to")->valuestring, "falkenberg-1");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "ttl")->valueint, 60);
    assert_int_equal(cJSON_GetArraySize(j), 6);
    cJSON_Delete(j);
    free(body);

    sw.address = "";
    assert_null(mig_traffic_webhook_body(&sw, 60, err, sizeof err));
    assert_string_equal(err, "a switch needs a workload, a hostname and an address");
    sw.address = "198.51.100.7";
    assert_null(mig_traffic_webhook_body(&sw, 0, err, sizeof err));
    assert_string_equal(err, "ttl 0 is not within 1..86400");
}

static void driver_none_switches_nothing_and_succeeds(void **state)
{
    (void)state;
    /* api and url point nowhere: "none" must not try them */
    struct cfg_traffic t = {.driver = "none",
                            .api = "http://127.0.0.1:1",
                            .api_key = "k",
                            .zone = "apps.example.org.",
                            .ttl = 30,
                            .url = "http://127.0.0.1:1/hook"};
    char err[256] = "";
    assert_int_equal(mig_traffic_apply(&t, &shop, 1000, err, sizeof err), 0);
    assert_string_equal(err, "");
}

static void a_switch_that_cannot_be_built_is_not_sent(void **state)
{
    (void)state;
    struct cfg_traffic t = {.driver = "powerdns",
                            .api = "http://127.0.0.1:1",
                            .api_key = "pdns-s3cret",
                            .server_id = "localhost",
                            .zone = "apps.example.org.",
                            .ttl = 30};
    struct mig_traffic_switch sw = shop;
    sw.hostname = "shop.other.org";
    char err[256] = "";
    assert_int_equal(mig_traffic_apply(&t, &sw, 1000, err, sizeof err), -1);
    assert_string_equal(err, "traffic powerdns: shop: hostname 'shop.other.org.' is not in zone "
                             "apps.example.org.");
    /* a request that fails names the driver, method and URL, never the key */
    assert_int_equal(mig_traffic_apply(&t, &shop, 1000, err, sizeof err), -1);
    assert_non_null(
        strstr(err, "traffic powerdns: PATCH http://127.0.0.1:1/api/v1/servers/localhost/zones/"
                    "apps.example.org.: "));
    assert_null(strstr(err, "s3cret"));

    struct cfg_traffic bad = {.driver = "route53"};
    assert_int_equal(mig_traffic_apply(&bad, &shop, 1000, err, sizeof err), -1);
    assert_string_equal(err, "traffic: unknown driver 'route53'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_ipv4_address_gives_an_A_rrset_replaced_with_the_ttl),
        cmocka_unit_test(an_ipv6_address_gives_AAAA_in_canonical_form),
        cmocka_unit_test(a_trailing_dot_and_capitals_give_the_same_absolute_name),
        cmocka_unit_test(what_cannot_be_a_record_is_refused_naming_it),
        cmocka_unit_test(the_webhook_body_carries_every_field_escaped),
        cmocka_unit_test(driver_none_switches_nothing_and_succeeds),
        cmocka_unit_test(a_switch_that_cannot_be_built_is_not_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
