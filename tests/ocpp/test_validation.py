"""The validator: every shipped schema compiles, the error table, the repairs, the real charger."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp import messages as ocpp_messages
from ocpp.exceptions import OCPPError

from actors.ocpp import Direction, ErrorCode, OcppError, Policy, Repair, Validator, parse_frame
from actors.ocpp.repairs import SchemaWalk
from actors.ocpp.v16.actions import ACTIONS_16
from actors.ocpp.v201.actions import ACTIONS_201
from actors.ocpp.v201.actions import TABLE as V201_ACTIONS
from actors.ocpp.validation import actions, compiled, schema_path
from tests.ocpp.schema_strategies import payloads
from tests.shared_fixtures import CHARGEDOT_SESSION

FIXTURE = CHARGEDOT_SESSION
STRICT = Validator("1.6", Policy.STRICT)
LENIENT = Validator("1.6", Policy.LENIENT)


def _actions(version: str) -> list[tuple[str, Direction]]:
    folder = schema_path(version, "Heartbeat", Direction.REQUEST).parent
    found = []
    for path in sorted(folder.glob("*.json")):
        name = path.stem
        if name.endswith("Response"):
            found.append((name.removesuffix("Response"), Direction.RESPONSE))
        else:
            found.append((name.removesuffix("Request") if version != "1.6" else name, Direction.REQUEST))
    return found


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_every_shipped_schema_compiles_in_both_directions(version: str) -> None:
    actions = _actions(version)
    assert len(actions) == (78 if version == "1.6" else 128)
    for action, direction in actions:
        assert compiled(version, action, direction) is not None, (action, direction)
        assert Validator(version).knows(action)
    requests = {a for a, d in actions if d is Direction.REQUEST}
    assert requests == {a for a, d in actions if d is Direction.RESPONSE}


def test_the_session_direction_tables_cover_exactly_the_shipped_schemas() -> None:
    assert actions("1.6") == ACTIONS_16
    assert actions("2.0.1") == ACTIONS_201


def test_unknown_actions_are_not_implemented() -> None:
    assert not STRICT.knows("MakeCoffee") and not STRICT.knows("../v201/schemas/Reset")
    with pytest.raises(OcppError) as caught:
        LENIENT.validate_request("MakeCoffee", {})
    assert caught.value.code is ErrorCode.NOT_IMPLEMENTED
    assert Validator("2.0.1").knows("TransactionEvent") and not STRICT.knows("TransactionEvent")


def _fixture(tx: int = 4711) -> list[tuple[str, str, dict[str, Any]]]:
    frames = []
    for line in FIXTURE.read_text().splitlines():
        text = json.dumps(json.loads(line)["frame"]).replace('"$TX"', str(tx))
        frame = parse_frame(text)
        assert frame.__class__.__name__ == "Call"
        frames.append((frame.unique_id, frame.action, frame.payload))  # type: ignore[union-attr]
    return frames


def test_the_real_charger_is_accepted_leniently_with_every_repair_recorded() -> None:
    repairs: dict[str, tuple[Repair, ...]] = {}
    for unique_id, action, payload in _fixture():
        before = copy.deepcopy(payload)
        accepted = LENIENT.validate_request(action, payload)
        assert payload == before  # never mutated
        STRICT.validate_request(action, accepted.payload)  # what lenient lets through is strictly valid
        if accepted.repairs:
            repairs[unique_id] = accepted.repairs
    assert repairs == {
        "5281674": (
            Repair("$.ChargeBoxSerialNumber", "key_case", "ChargeBoxSerialNumber", "chargeBoxSerialNumber"),
        ),
        "3890750": (
            Repair("$.meterValue[0].sampledValue[1].unit", "enum_alias", "Hz", "Hertz"),
            Repair("$.meterValue[0].sampledValue[2].unit", "enum_alias", "Celcius", "Celsius"),
        ),
    }


def test_the_real_charger_in_strict_mode_gets_the_right_codes() -> None:
    codes = {}
    for unique_id, action, payload in _fixture():
        try:
            STRICT.validate_request(action, payload)
        except OcppError as error:
            codes[unique_id] = (action, error.code, error.path)
    assert codes == {
        "5281674": ("BootNotification", ErrorCode.FORMATION_VIOLATION, "$"),
        "3890750": (
            "MeterValues",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            "$.meterValue[0].sampledValue[1].unit",
        ),
    }


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
SAMPLE = {"timestamp": "2021-08-24T11:14:03Z", "sampledValue": [{"value": "1"}]}


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("StatusNotification", {**STATUS, "connectorId": "one"}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ("StatusNotification", {**STATUS, "info": "x" * 51}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ("StatusNotification", {**STATUS, "colour": "red"}, ErrorCode.FORMATION_VIOLATION),
        ("StatusNotification", {"connectorId": 1, "status": "Available"}, ErrorCode.PROTOCOL_ERROR),
        ("StatusNotification", {**STATUS, "status": "Sleeping"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ("StatusNotification", {**STATUS, "timestamp": "yesterday"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
    ],
)
def test_schema_violations_map_to_codes(action: str, payload: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(OcppError) as caught:
        STRICT.validate_request(action, payload)
    assert caught.value.code is code
    assert caught.value.path.startswith("$") and action in caught.value.description


@pytest.mark.parametrize(
    "payload",
    [
        {**STATUS, "connectorId": "one"},
        {**STATUS, "info": "x" * 51},
        {**STATUS, "colour": "red"},
        {"connectorId": 1, "status": "Available"},
    ],
)
def test_codes_mirror_the_ocpp_package_where_it_names_the_rule(payload: dict[str, Any]) -> None:
    with pytest.raises(OCPPError) as theirs:
        ocpp_messages._validate_payload(ocpp_messages.Call("1", "StatusNotification", payload), "1.6")
    with pytest.raises(OcppError) as ours:
        STRICT.validate_request("StatusNotification", payload)
    # ocpp spells FormatViolation the 2.0.1 way even for 1.6
    assert V201_ACTIONS.spell(ours.value.code) == theirs.value.code


def test_lenient_rejects_what_it_cannot_repair_with_the_same_codes() -> None:
    with pytest.raises(OcppError) as caught:
        LENIENT.validate_request("StatusNotification", {**STATUS, "connectorId": "one"})
    assert caught.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    with pytest.raises(OcppError) as caught:
        LENIENT.validate_request("StatusNotification", {**STATUS, "status": "Sleeping", "info": "x" * 60})
    assert caught.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def test_each_repair_kind() -> None:
    payload = {
        "ConnectorId": "2",
        "errorCode": "noerror",
        "status": "Charging",
        "info": "i" * 60,
        "timestamp": "2021-08-24 13:13:03.250+02:00",
    }
    accepted = LENIENT.validate_request("StatusNotification", payload)
    assert accepted.payload == {
        "connectorId": 2,
        "errorCode": "NoError",
        "status": "Charging",
        "info": "i" * 50,
        "timestamp": "2021-08-24T11:13:03.250Z",
    }
    assert [(r.path, r.kind) for r in accepted.repairs] == [
        ("$.ConnectorId", "key_case"),
        ("$.connectorId", "number_coerced"),
        ("$.errorCode", "enum_case"),
        ("$.info", "truncated"),
        ("$.timestamp", "timestamp_normalised"),
    ]
    assert LENIENT.validate_request("StatusNotification", accepted.payload).repairs == ()
    naive = LENIENT.validate_request(
        "StartTransaction",
        {"connectorId": 1, "idTag": "t", "meterStart": "0.0", "timestamp": "2021-08-24T11:13:03"},
    )
    assert naive.payload["timestamp"] == "2021-08-24T11:13:03Z" and naive.payload["meterStart"] == 0


def test_a_valid_alias_spelling_is_still_canonicalised() -> None:
    sampled = [{"value": "21", "unit": "Celcius", "measurand": "Temperature"}, {"value": "1", "unit": "Wh"}]
    meter: dict[str, Any] = {"connectorId": 1, "meterValue": [{**SAMPLE, "sampledValue": sampled}]}
    STRICT.validate_request("MeterValues", meter)  # the shipped schema accepts Celcius
    accepted = LENIENT.validate_request("MeterValues", meter)
    assert accepted.repairs == (
        Repair("$.meterValue[0].sampledValue[0].unit", "enum_alias", "Celcius", "Celsius"),
    )
    assert accepted.payload["meterValue"][0]["sampledValue"][1] is sampled[1]  # untouched parts are shared
    assert meter["meterValue"][0]["sampledValue"][0]["unit"] == "Celcius"  # the input is not mutated


def test_the_frame_text_spares_the_alias_walk_only_when_no_alias_can_be_in_it() -> None:
    sampled = [{"value": "21", "unit": "Celcius", "measurand": "Temperature"}]
    meter: dict[str, Any] = {"connectorId": 1, "meterValue": [{**SAMPLE, "sampledValue": sampled}]}
    wanted = (Repair("$.meterValue[0].sampledValue[0].unit", "enum_alias", "Celcius", "Celsius"),)
    frame = f'[2,"1","MeterValues",{json.dumps(meter)}]'
    assert LENIENT.validate_request("MeterValues", meter, frame).repairs == wanted
    escaped = frame.replace('"Celcius"', '"\\u0043elcius"')  # the same string, spelt with an escape
    assert json.loads(escaped)[3] == meter
    assert LENIENT.validate_request("MeterValues", meter, escaped).repairs == wanted
    clean = {"connectorId": 1, "meterValue": [{**SAMPLE, "sampledValue": [{"value": "1", "unit": "Wh"}]}]}
    accepted = LENIENT.validate_request("MeterValues", clean, json.dumps(clean))
    assert accepted.repairs == () and accepted.payload is clean
    vendor = Validator("1.6", Policy.LENIENT, aliases={"Amp": "A"})
    amps = {"connectorId": 1, "meterValue": [{**SAMPLE, "sampledValue": [{"value": "1", "unit": "Amp"}]}]}
    assert vendor.validate_request("MeterValues", amps, json.dumps(amps)).repairs == (
        Repair("$.meterValue[0].sampledValue[0].unit", "enum_alias", "Amp", "A"),
    )


def test_an_integral_float_is_an_integer_only_where_the_schema_draft_says_so() -> None:
    draft04 = LENIENT.validate_request("CancelReservation", {"reservationId": 7.0})
    assert draft04.repairs == (Repair("$.reservationId", "number_coerced", 7.0, 7),)
    with pytest.raises(OcppError):
        STRICT.validate_request("CancelReservation", {"reservationId": 7.0})
    draft06 = {"requestedMessage": "BootNotification", "connectorId": 1.0}
    assert LENIENT.validate_request("ExtendedTriggerMessage", draft06).payload is draft06


def test_aliases_are_configurable_and_may_not_chain() -> None:
    vendor = Validator("1.6", Policy.LENIENT, aliases={"Amp": "A"})
    meter = {"connectorId": 1, "meterValue": [{**SAMPLE, "sampledValue": [{"value": "1", "unit": "Amp"}]}]}
    accepted = vendor.validate_request("MeterValues", meter)
    assert accepted.repairs == (Repair("$.meterValue[0].sampledValue[0].unit", "enum_alias", "Amp", "A"),)
    with pytest.raises(OcppError):
        LENIENT.validate_request("MeterValues", meter)
    with pytest.raises(ValueError, match="alias"):
        Validator("1.6", aliases={"Hertz": "Hz"})
    with pytest.raises(ValueError, match="version"):
        Validator("1.5")


def test_decimal_multiples_are_not_float_artefacts() -> None:
    profile = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
            },
        },
    }
    assert STRICT.validate_request("SetChargingProfile", profile).payload is profile


def _drawable() -> list[tuple[str, str, Direction]]:
    """Every shipped schema the strategies can draw from: not the two with ``uri`` fields, nor 2.0.1's
    DataTransfer, whose ``data`` has no type at all."""
    found = []
    for version in ("1.6", "2.0.1"):
        for action, direction in _actions(version):
            schema = _schema(version, action, direction)
            if '"uri"' not in json.dumps(schema) and (version, action) != ("2.0.1", "DataTransfer"):
                found.append((version, action, direction))
    return found


def _schema(version: str, action: str, direction: Direction) -> dict[str, Any]:
    found = compiled(version, action, direction)
    assert found is not None
    return found.schema


VALIDATORS = {(v, p): Validator(v, p) for v in ("1.6", "2.0.1") for p in Policy}
Drawn = tuple[tuple[str, str, Direction], dict[str, Any]]


def _drawn(quirky: bool) -> st.SearchStrategy[Drawn]:
    return st.sampled_from(_drawable()).flatmap(
        lambda key: st.tuples(st.just(key), payloads(_schema(*key), quirky=quirky))
    )


def test_the_property_tests_cover_nearly_every_schema() -> None:
    assert len(_drawable()) == 78 - 2 + 128 - 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_drawn(quirky=False))
def test_a_valid_payload_is_never_changed(drawn: Drawn) -> None:
    (version, action, direction), payload = drawn
    VALIDATORS[version, Policy.STRICT].validate(action, direction, payload)
    accepted = VALIDATORS[version, Policy.LENIENT].validate(action, direction, payload)
    assert accepted.repairs == () and accepted.payload is payload
    for text in (json.dumps(payload), json.dumps(payload, ensure_ascii=False)):  # as the station gives it
        assert VALIDATORS[version, Policy.LENIENT].validate(action, direction, payload, text) == accepted
    again, repairs = SchemaWalk(_schema(version, action, direction), LENIENT.aliases).repair(payload)
    assert repairs == [] and again is payload  # the full walk agrees: nothing to repair


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_drawn(quirky=True))
def test_quirks_are_repaired_to_valid_and_repairs_are_idempotent(drawn: Drawn) -> None:
    (version, action, direction), payload = drawn
    before = copy.deepcopy(payload)
    accepted = VALIDATORS[version, Policy.LENIENT].validate(action, direction, payload)
    assert payload == before
    with_text = VALIDATORS[version, Policy.LENIENT].validate(action, direction, payload, json.dumps(payload))
    assert with_text == accepted  # the frame's text changes nothing about what is repaired
    VALIDATORS[version, Policy.STRICT].validate(action, direction, accepted.payload)
    again = VALIDATORS[version, Policy.LENIENT].validate(action, direction, accepted.payload)
    assert again.repairs == () and again.payload is accepted.payload
    walked, repairs = SchemaWalk(_schema(version, action, direction), LENIENT.aliases).repair(
        accepted.payload
    )
    assert repairs == [] and walked is accepted.payload
