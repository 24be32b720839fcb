/*
 * sim_regmap — the Modbus register map of a simulated site: where each
 * model value sits, in which type and word/byte order.
 *
 * Pure encoding, no sockets: sim_regmap_encode() writes a model into four
 * plain tables (libmodbus's modbus_mapping_t arrays in the server, local
 * arrays in tests). sim/README.md documents the same map for people; the
 * two change together and the map version in holding register 0 says
 * which one a client is talking to.
 */
#ifndef FLOE_SIM_REGMAP_H
#define FLOE_SIM_REGMAP_H

#include "sim/sim_model.h"

#include <stdint.h>

#define SIM_REGMAP_VERSION 1
/* Every table (coils, discrete inputs, holding and input registers) has
 * this many entries, addresses 0 .. SIM_REGMAP_SIZE-1. */
#define SIM_REGMAP_SIZE 1400

/* Holding registers unless noted; addresses are 0-based protocol
 * addresses (mbpoll and "4xxxx" numbering add 1). */
#define SIM_REG_VERSION 0 /* uint16 */
#define SIM_REG_NUNITS 1  /* uint16 */
#define SIM_REG_TIME_S 2  /* uint32 ABCD, simulated seconds */

#define SIM_REG_UNIT_BASE 100 /* unit i: base + stride * i */
#define SIM_REG_UNIT_STRIDE 20
#define SIM_REG_UNIT_CAPACITY 0  /* float32 ABCD, kW */
#define SIM_REG_UNIT_AVAILABLE 2 /* float32 ABCD, kW (0 while stopped) */
#define SIM_REG_UNIT_RATED 4     /* float32 ABCD, kW */
#define SIM_REG_UNIT_SUPPLY 6    /* int16, 0.1 °C */
#define SIM_REG_UNIT_ALARM 7     /* uint16 bits SIM_ALARM_* */
#define SIM_REG_UNIT_KIND 8      /* uint16: 1 chiller, 2 CRAH */
/* Coil base + stride * i: running. Discrete input base + stride * i: any
 * alarm bit set. */

#define SIM_REG_IT_LOAD 1000       /* float32 ABCD, kW */
#define SIM_REG_IT_BASE 1002       /* float32 ABCD, kW */
#define SIM_REG_IT_LOAD_W 1004     /* uint32 ABCD, W */
#define SIM_REG_IT_ENERGY_KWH 1006 /* float64 ABCD, kWh */
#define SIM_REG_IT_ENERGY_WH 1010  /* uint64 DCBA, Wh */

#define SIM_REG_SUPPLY_HYDRO 1100   /* float32 ABCD, kW */
#define SIM_REG_SUPPLY_WIND 1102    /* float32 CDAB, kW */
#define SIM_REG_SUPPLY_GRID 1104    /* float32 DCBA, kW */
#define SIM_REG_SUPPLY_TOTAL 1106   /* float32 BADC, kW */
#define SIM_REG_SUPPLY_HYDRO_W 1108 /* int32 ABCD, W */
#define SIM_REG_SUPPLY_WIND_W 1110  /* int32 CDAB, W */
#define SIM_REG_SUPPLY_GRID_W 1112  /* uint32 DCBA, W */

/* Input registers: room sensors. */
#define SIM_IREG_ROOM_INLET 1200    /* float32 ABCD, °C */
#define SIM_IREG_ROOM_SETPOINT 1202 /* int16, 0.1 °C */

#define SIM_REG_UPS_BATTERY 1300  /* uint16, 0.1 % */
#define SIM_REG_UPS_RUNTIME 1301  /* uint16, whole minutes (rounded down) */
#define SIM_REG_UPS_OUTPUT_W 1302 /* uint32 ABCD, W */
#define SIM_REG_UPS_STATUS 1304   /* uint16 bits SIM_UPS_* */

/* Word/byte order of multi-register values, named by where the bytes
 * A (most significant) .. land, as in the agent's config (SPEC 2.1). */
enum sim_order { SIM_ORDER_ABCD, SIM_ORDER_DCBA, SIM_ORDER_BADC, SIM_ORDER_CDAB };

void sim_reg_put_u32(uint16_t *regs, uint32_t v, enum sim_order order);
void sim_reg_put_u64(uint16_t *regs, uint64_t v, enum sim_order order);
void sim_reg_put_f32(uint16_t *regs, float v, enum sim_order order);
void sim_reg_put_f64(uint16_t *regs, double v, enum sim_order order);

/* Writes the whole map; each table must hold SIM_REGMAP_SIZE entries
 * (coils and discretes one byte per bit, as libmodbus keeps them).
 * Addresses the map does not use are zero. */
void sim_regmap_encode(const struct sim_model *m, uint8_t *coils, uint8_t *discretes,
                       uint16_t *holding, uint16_t *input);

#endif
