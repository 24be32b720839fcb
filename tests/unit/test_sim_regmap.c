/*
 * test_sim_regmap — the simulator's register encoding (sim/sim_regmap.c):
 * word/byte orders, scaled integers and where each value lands. These
 * are the exact bytes the agent's Modbus decoder is tested against.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_regmap.h"

#include <string.h>

static void orders_place_bytes_as_named(void **state)
{
    (void)state;
    static const struct {
        enum sim_order order;
        uint16_t u32[2]; /* 0x01020304 */
        uint16_t u64[4]; /* 0x0102030405060708 */
    } cases[] = {
        {SIM_ORDER_ABCD, {0x0102, 0x0304}, {0x0102, 0x0304, 0x0506, 0x0708}},
        {SIM_ORDER_DCBA, {0x0403, 0x0201}, {0x0807, 0x0605, 0x0403, 0x0201}},
        {SIM_ORDER_BADC, {0x0201, 0x0403}, {0x0201, 0x0403, 0x0605, 0x0807}},
        {SIM_ORDER_CDAB, {0x0304, 0x0102}, {0x0708, 0x0506, 0x0304, 0x0102}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t r[4] = {0};
        sim_reg_put_u32(r, 0x01020304u, cases[i].order);
        assert_memory_equal(r, cases[i].u32, sizeof cases[i].u32);
        sim_reg_put_u64(r, 0x0102030405060708ull, cases[i].order);
        assert_memory_equal(r, cases[i].u64, sizeof cases[i].u64);
    }
    uint16_t f[2];
    sim_reg_put_f32(f, 250.0f, SIM_ORDER_ABCD); /* 0x437A0000 */
    assert_int_equal(f[0], 0x437A);
    assert_int_equal(f[1], 0x0000);
    sim_reg_put_f32(f, 250.0f, SIM_ORDER_CDAB);
    assert_int_equal(f[0], 0x0000);
    assert_int_equal(f[1], 0x437A);
    uint16_t d[4];
    sim_reg_put_f64(d, 1.5, SIM_ORDER_ABCD); /* 0x3FF8000000000000 */
    assert_int_equal(d[0], 0x3FF8);
    assert_int_equal(d[3], 0);
}

struct tables {
    uint8_t coils[SIM_REGMAP_SIZE], discretes[SIM_REGMAP_SIZE];
    uint16_t holding[SIM_REGMAP_SIZE], input[SIM_REGMAP_SIZE];
};

static uint32_t u32_at(const uint16_t *r)
{
    return (uint32_t)r[0] << 16 | r[1];
}

static void model_values_land_at_documented_addresses(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    struct sim_unit *c1 = sim_model_add_unit(&m, "chiller1", SIM_UNIT_CHILLER, NULL, 0);
    struct sim_unit *crah = sim_model_add_unit(&m, "crah1", SIM_UNIT_CRAH, NULL, 0);
    c1->capacity_kw = c1->rated_kw = 250;
    crah->capacity_kw = 0;
    crah->rated_kw = 60;
    crah->running = false;
    crah->fault = true;
    crah->supply_c = -5.5;
    m.it_base_kw = 400;
    m.it_cluster_kw = 12.5;
    m.it_energy_kwh = 1.5;
    m.supply_hydro_kw = 380;
    m.supply_wind_kw = 120;
    m.supply_grid_kw = 2;
    m.room_inlet_c = 23.5;
    m.room_setpoint_c = 22;
    m.ups_battery_pct = 87.65;
    m.ups_output_w = 400000;
    m.ups_capacity_wh = 80000; /* 10.5 min at 87.65 % -> reported as 10 */
    m.ups_on_battery = true;
    m.time_ms = 70000;

    static struct tables t;
    memset(&t, 0xAA, sizeof t); /* unused addresses must come out zero */
    sim_regmap_encode(&m, t.coils, t.discretes, t.holding, t.input);

    assert_int_equal(t.holding[0], SIM_REGMAP_VERSION);
    assert_int_equal(t.holding[1], 2);
    assert_int_equal(u32_at(&t.holding[2]), 70);
    assert_int_equal(t.holding[50], 0);

    /* chiller1 at 100: 250.0f, running, no alarm */
    assert_int_equal(u32_at(&t.holding[100]), 0x437A0000);
    assert_int_equal(u32_at(&t.holding[102]), 0x437A0000);
    assert_int_equal(t.holding[106], 70); /* 7.0 °C in 0.1 °C */
    assert_int_equal(t.holding[107], 0);
    assert_int_equal(t.holding[108], SIM_UNIT_CHILLER);
    assert_int_equal(t.coils[100], 1);
    assert_int_equal(t.discretes[100], 0);
    /* crah1 at 120: stopped, capacity reduced, faulted, -5.5 °C */
    assert_int_equal(u32_at(&t.holding[120]), 0);
    assert_int_equal(u32_at(&t.holding[124]), 0x42700000); /* 60.0f */
    assert_int_equal(t.holding[126], (uint16_t)-55);
    assert_int_equal(t.holding[127],
                     SIM_ALARM_STOPPED | SIM_ALARM_CAPACITY_REDUCED | SIM_ALARM_FAULT);
    assert_int_equal(t.holding[128], SIM_UNIT_CRAH);
    assert_int_equal(t.coils[120], 0);
    assert_int_equal(t.discretes[120], 1);
    assert_int_equal(t.holding[140], 0);

    assert_int_equal(u32_at(&t.holding[SIM_REG_IT_LOAD]), 0x43CE4000); /* 412.5f */
    assert_int_equal(u32_at(&t.holding[SIM_REG_IT_BASE]), 0x43C80000); /* 400.0f */
    assert_int_equal(u32_at(&t.holding[SIM_REG_IT_LOAD_W]), 412500);
    assert_int_equal(t.holding[SIM_REG_IT_ENERGY_KWH], 0x3FF8); /* 1.5 */
    /* 1500 Wh = 0x5DC as uint64 DCBA: least significant byte first */
    assert_int_equal(t.holding[SIM_REG_IT_ENERGY_WH], 0xDC05);
    assert_int_equal(t.holding[SIM_REG_IT_ENERGY_WH + 1], 0);
    assert_int_equal(t.holding[SIM_REG_IT_ENERGY_WH + 3], 0);

    assert_int_equal(u32_at(&t.holding[SIM_REG_SUPPLY_HYDRO]), 0x43BE0000); /* 380 ABCD */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_WIND], 0x0000);               /* 120 CDAB */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_WIND + 1], 0x42F0);
    assert_int_equal(t.holding[SIM_REG_SUPPLY_GRID], 0x0000); /* 2 DCBA */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_GRID + 1], 0x0040);
    assert_int_equal(t.holding[SIM_REG_SUPPLY_TOTAL], 0xFB43); /* 502 BADC */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_TOTAL + 1], 0x0000);
    assert_int_equal(u32_at(&t.holding[SIM_REG_SUPPLY_HYDRO_W]), 380000);
    assert_int_equal(t.holding[SIM_REG_SUPPLY_WIND_W], 120000 & 0xFFFF); /* CDAB */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_WIND_W + 1], 120000 >> 16);
    assert_int_equal(t.holding[SIM_REG_SUPPLY_GRID_W], 0xD007); /* 2000 DCBA */
    assert_int_equal(t.holding[SIM_REG_SUPPLY_GRID_W + 1], 0);

    assert_int_equal(u32_at(&t.input[SIM_IREG_ROOM_INLET]), 0x41BC0000); /* 23.5f */
    assert_int_equal(t.input[SIM_IREG_ROOM_SETPOINT], 220);
    assert_int_equal(t.holding[SIM_IREG_ROOM_INLET], 0); /* input table only */

    assert_int_equal(t.holding[SIM_REG_UPS_BATTERY], 877); /* rounded */
    assert_int_equal(t.holding[SIM_REG_UPS_RUNTIME], 10);  /* rounded down */
    assert_int_equal(u32_at(&t.holding[SIM_REG_UPS_OUTPUT_W]), 400000);
    assert_int_equal(t.holding[SIM_REG_UPS_STATUS], SIM_UPS_ON_BATTERY);
}

static void scaled_integers_saturate(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    struct sim_unit *u = sim_model_add_unit(&m, "c1", SIM_UNIT_CHILLER, NULL, 0);
    u->supply_c = 4000;      /* beyond int16 at 0.1 °C */
    m.ups_output_w = 0;      /* no load: runtime unbounded */
    m.supply_hydro_kw = 3e6; /* beyond int32 in W */
    static struct tables t;
    sim_regmap_encode(&m, t.coils, t.discretes, t.holding, t.input);
    assert_int_equal(t.holding[SIM_REG_UNIT_BASE + SIM_REG_UNIT_SUPPLY], 32767);
    assert_int_equal(t.holding[SIM_REG_UPS_RUNTIME], 65535);
    assert_int_equal(u32_at(&t.holding[SIM_REG_SUPPLY_HYDRO_W]), 0x7FFFFFFF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_place_bytes_as_named),
        cmocka_unit_test(model_values_land_at_documented_addresses),
        cmocka_unit_test(scaled_integers_saturate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
