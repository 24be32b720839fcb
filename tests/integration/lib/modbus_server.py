#!/usr/bin/python3
"""An independent Modbus TCP server for tests: python3-pymodbus (Debian).

    modbus_server.py PORT SPEC.json

SPEC: {"unit": 1, "holding": {"100": 17008, ...}, "input": {...},
       "coil": {"3": 1}, "discrete": {...}}; addresses are 0-based protocol
addresses, register values 16-bit words. Prints "listening PORT" once up.
"""
import json
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

logging.basicConfig(level=logging.CRITICAL)


def block(values, size=65536):
    data = [0] * size
    for addr, value in values.items():
        data[int(addr)] = int(value)
    # pymodbus 3.0 addresses blocks 1-based internally; zero_mode below
    # makes protocol address N read data[N].
    return ModbusSequentialDataBlock(0, data)


def main():
    port = int(sys.argv[1])
    spec = json.load(open(sys.argv[2]))
    slave = ModbusSlaveContext(
        hr=block(spec.get("holding", {})), ir=block(spec.get("input", {})),
        co=block(spec.get("coil", {})), di=block(spec.get("discrete", {})), zero_mode=True)
    context = ModbusServerContext(slaves={spec.get("unit", 1): slave}, single=False)
    print("listening", port, flush=True)
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
