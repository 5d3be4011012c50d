"""Fixtures for the Modbus actor tests: the pymodbus peer of tests/modbus, and a running device world."""

from __future__ import annotations

from tests.modbus.conftest import peer_factory as peer_factory
