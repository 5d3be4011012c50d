"""Modbus on trio: sans-I/O framing on pymodbus PDUs, a reconnecting line, meters and EVSE controllers.

Public surface::

    line = ModbusLine(tcp_connector("10.0.0.5", 502))                     # Modbus TCP
    gateway = ModbusLine(tcp_connector("10.0.0.6", 4196), Framing.RTU)    # RTU over TCP
    bus = ModbusLine(serial_connector("/dev/ttyUSB0", 9600), Framing.RTU,
                     frame_gap=rtu_frame_gap(9600))                       # RTU on RS-485
    meter = ModbusMeter(line, unit=1, profile=load_shipped_profile("eastron_sdm630"))
    reading = await meter.poll()
"""

from adapters.modbus.backoff import Backoff
from adapters.modbus.device import ModbusEvse, ModbusMeter
from adapters.modbus.framing import ClientFraming, Framing, GarbledFrame, Request, read_request, write_request
from adapters.modbus.line import Connector, Exchange, LineStats, ModbusLine, Observer, tcp_connector
from adapters.modbus.serial_port import rtu_frame_gap, serial_connector

__all__ = [
    "Backoff",
    "ClientFraming",
    "Connector",
    "Exchange",
    "Framing",
    "GarbledFrame",
    "LineStats",
    "ModbusEvse",
    "ModbusLine",
    "ModbusMeter",
    "Observer",
    "Request",
    "read_request",
    "rtu_frame_gap",
    "serial_connector",
    "tcp_connector",
    "write_request",
]
