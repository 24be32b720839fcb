/*
 * sim_regmap — see sim_regmap.h. Scaled integers are rounded to nearest
 * and clamped to their type's range (a real meter saturates rather than
 * wrapping), except the UPS runtime, which is rounded down as UPSes report
 * whole minutes left.
 */
#include "sim/sim_regmap.h"

#include <math.h>
#include <string.h>

/* be holds n big-endian bytes (n even); they are placed per `order`. */
static void put_bytes(uint16_t *regs, const uint8_t *be, size_t n, enum sim_order order)
{
    size_t words = n / 2;
    for (size_t k = 0; k < words; k++) {
        /* Word-reversing orders take the words from the far end. */
        size_t w = (order == SIM_ORDER_CDAB || order == SIM_ORDER_DCBA) ? words - 1 - k : k;
        uint8_t hi = be[2 * w], lo = be[2 * w + 1];
        if (order == SIM_ORDER_BADC || order == SIM_ORDER_DCBA)
            regs[k] = (uint16_t)(lo << 8 | hi);
        else
            regs[k] = (uint16_t)(hi << 8 | lo);
    }
}

void sim_reg_put_u64(uint16_t *regs, uint64_t v, enum sim_order order)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    put_bytes(regs, be, 8, order);
}

void sim_reg_put_u32(uint16_t *regs, uint32_t v, enum sim_order order)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(regs, be, 4, order);
}

void sim_reg_put_f32(uint16_t *regs, float v, enum sim_order order)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    sim_reg_put_u32(regs, bits, order);
}

void sim_reg_put_f64(uint16_t *regs, double v, enum sim_order order)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    sim_reg_put_u64(regs, bits, order);
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static uint16_t u16_of(double v)
{
    return (uint16_t)clamp(round(v), 0, UINT16_MAX);
}

static uint16_t i16_of(double v)
{
    return (uint16_t)(int16_t)clamp(round(v), INT16_MIN, INT16_MAX);
}

static uint32_t u32_of(double v)
{
    return (uint32_t)clamp(round(v), 0, UINT32_MAX);
}

static uint32_t i32_of(double v)
{
    return (uint32_t)(int32_t)clamp(round(v), INT32_MIN, INT32_MAX);
}

static void encode_unit(const struct sim_unit *u, uint16_t base, uint8_t *coils, uint8_t *discretes,
                        uint16_t *holding)
{
    unsigned alarm = sim_model_unit_alarm(u);
    sim_reg_put_f32(&holding[base + SIM_REG_UNIT_CAPACITY], (float)u->capacity_kw, SIM_ORDER_ABCD);
    sim_reg_put_f32(&holding[base + SIM_REG_UNIT_AVAILABLE], (float)sim_model_unit_available_kw(u),
                    SIM_ORDER_ABCD);
    sim_reg_put_f32(&holding[base + SIM_REG_UNIT_RATED], (float)u->rated_kw, SIM_ORDER_ABCD);
    holding[base + SIM_REG_UNIT_SUPPLY] = i16_of(u->supply_c * 10.0);
    holding[base + SIM_REG_UNIT_ALARM] = (uint16_t)alarm;
    holding[base + SIM_REG_UNIT_KIND] = (uint16_t)u->kind;
    coils[base] = u->running;
    discretes[base] = alarm != 0;
}

void sim_regmap_encode(const struct sim_model *m, uint8_t *coils, uint8_t *discretes,
                       uint16_t *holding, uint16_t *input)
{
    memset(coils, 0, SIM_REGMAP_SIZE);
    memset(discretes, 0, SIM_REGMAP_SIZE);
    memset(holding, 0, SIM_REGMAP_SIZE * sizeof *holding);
    memset(input, 0, SIM_REGMAP_SIZE * sizeof *input);

    holding[SIM_REG_VERSION] = SIM_REGMAP_VERSION;
    holding[SIM_REG_NUNITS] = (uint16_t)m->nunits;
    sim_reg_put_u32(&holding[SIM_REG_TIME_S], (uint32_t)(m->time_ms / 1000), SIM_ORDER_ABCD);

    for (size_t i = 0; i < m->nunits; i++)
        encode_unit(&m->units[i], (uint16_t)(SIM_REG_UNIT_BASE + SIM_REG_UNIT_STRIDE * i), coils,
                    discretes, holding);

    double load_kw = sim_model_it_load_kw(m);
    sim_reg_put_f32(&holding[SIM_REG_IT_LOAD], (float)load_kw, SIM_ORDER_ABCD);
    sim_reg_put_f32(&holding[SIM_REG_IT_BASE], (float)m->it_base_kw, SIM_ORDER_ABCD);
    sim_reg_put_u32(&holding[SIM_REG_IT_LOAD_W], u32_of(load_kw * 1000.0), SIM_ORDER_ABCD);
    sim_reg_put_f64(&holding[SIM_REG_IT_ENERGY_KWH], m->it_energy_kwh, SIM_ORDER_ABCD);
    sim_reg_put_u64(&holding[SIM_REG_IT_ENERGY_WH], (uint64_t)llround(m->it_energy_kwh * 1000.0),
                    SIM_ORDER_DCBA);

    sim_reg_put_f32(&holding[SIM_REG_SUPPLY_HYDRO], (float)m->supply_hydro_kw, SIM_ORDER_ABCD);
    sim_reg_put_f32(&holding[SIM_REG_SUPPLY_WIND], (float)m->supply_wind_kw, SIM_ORDER_CDAB);
    sim_reg_put_f32(&holding[SIM_REG_SUPPLY_GRID], (float)m->supply_grid_kw, SIM_ORDER_DCBA);
    sim_reg_put_f32(&holding[SIM_REG_SUPPLY_TOTAL], (float)sim_model_supply_kw(m), SIM_ORDER_BADC);
    sim_reg_put_u32(&holding[SIM_REG_SUPPLY_HYDRO_W], i32_of(m->supply_hydro_kw * 1000.0),
                    SIM_ORDER_ABCD);
    sim_reg_put_u32(&holding[SIM_REG_SUPPLY_WIND_W], i32_of(m->supply_wind_kw * 1000.0),
                    SIM_ORDER_CDAB);
    sim_reg_put_u32(&holding[SIM_REG_SUPPLY_GRID_W], u32_of(m->supply_grid_kw * 1000.0),
                    SIM_ORDER_DCBA);

    sim_reg_put_f32(&input[SIM_IREG_ROOM_INLET], (float)m->room_inlet_c, SIM_ORDER_ABCD);
    input[SIM_IREG_ROOM_SETPOINT] = i16_of(m->room_setpoint_c * 10.0);

    holding[SIM_REG_UPS_BATTERY] = u16_of(m->ups_battery_pct * 10.0);
    holding[SIM_REG_UPS_RUNTIME] =
        (uint16_t)clamp(floor(sim_model_ups_runtime_min(m)), 0, UINT16_MAX);
    sim_reg_put_u32(&holding[SIM_REG_UPS_OUTPUT_W], u32_of(m->ups_output_w), SIM_ORDER_ABCD);
    holding[SIM_REG_UPS_STATUS] = (uint16_t)sim_model_ups_status(m);
}
