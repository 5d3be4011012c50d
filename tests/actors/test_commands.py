"""Typed commands from the ocpp package become camelCase wire payloads, checked against the schema."""

from __future__ import annotations

import pytest
from ocpp.v16 import call, datatypes, enums

from actors.commands import Command, to_command
from actors.ocpp import Policy, Validator


def test_nested_dataclasses_and_enums_become_camel_case_wire_payloads() -> None:
    command = to_command(
        call.SetChargingProfile(
            connector_id=1,
            cs_charging_profiles=datatypes.ChargingProfile(
                charging_profile_id=3,
                stack_level=0,
                charging_profile_purpose=enums.ChargingProfilePurposeType.tx_default_profile,
                charging_profile_kind=enums.ChargingProfileKindType.relative,
                charging_schedule=datatypes.ChargingSchedule(
                    charging_rate_unit=enums.ChargingRateUnitType.amps,
                    charging_schedule_period=[datatypes.ChargingSchedulePeriod(start_period=0, limit=16.0)],
                ),
            ),
        )
    )
    assert command.action == "SetChargingProfile"
    assert command.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0}
    ]
    Validator("1.6", Policy.STRICT).validate_request(command.action, dict(command.payload))


def test_vendor_data_is_passed_through_untouched() -> None:
    command = to_command(call.DataTransfer(vendor_id="acme", message_id="m", data='{"snake_case_key": 1}'))
    assert command.payload == {"vendorId": "acme", "messageId": "m", "data": '{"snake_case_key": 1}'}


def test_a_command_is_itself_and_anything_else_is_refused() -> None:
    command = Command("ClearCache", {})
    assert to_command(command) is command
    with pytest.raises(TypeError, match="not a command"):
        to_command({"action": "Reset"})
