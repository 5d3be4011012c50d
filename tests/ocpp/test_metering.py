"""Meter values flattened to samples in one unit per quantity, with the 1.6 defaults."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.metering import MeterProblem, Sample, SignedSample, normalise_meter_values
from actors.ocpp import Policy, Validator
from tests.shared_fixtures import CHARGEDOT_SESSION

FIXTURE = CHARGEDOT_SESSION
T = "2021-08-24T11:14:03Z"


def _fixture_meter_values() -> list[list[dict[str, Any]]]:
    found = []
    for line in FIXTURE.read_text().splitlines():
        _, _, action, payload = json.loads(line)["frame"]
        if action == "MeterValues":
            found.append(payload["meterValue"])
    return found


def test_the_real_charger_sample_in_kwh_becomes_wh() -> None:
    first, second = (normalise_meter_values(mv) for mv in _fixture_meter_values())
    assert first.problems == () and second.problems == () and first.signed == ()
    energy = [s for s in first.samples + second.samples if s.measurand == "Energy.Active.Import.Register"]
    assert [(s.unit, s.value) for s in energy] == [("Wh", 6_089_000.0), ("Wh", 6_090_200.0)]
    by_measurand = {(s.measurand, s.phase): s for s in first.samples}
    assert by_measurand[("Current.Import", "L2")].value == 7.984
    assert by_measurand[("Power.Active.Import", None)] == Sample(
        T, "Power.Active.Import", None, "W", "Sample.Periodic", "Outlet", 1600.0
    )
    assert by_measurand[("Frequency", None)].unit == "Hertz"  # no unit sent: the measurand's own
    frequency, temperature = (s for s in second.samples if s.measurand != "Energy.Active.Import.Register")
    assert (frequency.unit, frequency.value) == ("Hertz", 50.1)  # "Hz" even when not repaired first
    assert (temperature.unit, temperature.value) == ("Celsius", 23.0)  # "Celcius"


def test_repaired_and_unrepaired_payloads_give_the_same_samples() -> None:
    meter_value = _fixture_meter_values()[1]
    repaired = Validator("1.6", Policy.LENIENT).validate_request(
        "MeterValues", {"connectorId": 1, "meterValue": meter_value}
    )
    assert normalise_meter_values(repaired.payload["meterValue"]) == normalise_meter_values(meter_value)


@pytest.mark.parametrize(
    ("measurand", "unit", "raw", "canonical", "value"),
    [
        ("Energy.Reactive.Import.Register", "kvarh", "2.5", "varh", 2500.0),
        ("Power.Reactive.Import", "kvar", "0.5", "var", 500.0),
        ("Power.Offered", "kVA", "11", "VA", 11000.0),
        ("Power.Offered", "kW", "11", "W", 11000.0),
        ("Voltage", "V", "230.1", "V", 230.1),
        ("Temperature", "K", "300", "Celsius", 300 - 273.15),
        ("Temperature", "Fahrenheit", "212", "Celsius", 100.0),
        ("SoC", "Percent", "81", "Percent", 81.0),
        ("Power.Factor", None, "0.98", "", 0.98),
        ("RPM", None, "1200", "", 1200.0),
        ("Energy.Active.Export.Interval", None, "12", "Wh", 12.0),
    ],
)
def test_units_become_one_canonical_unit(
    measurand: str, unit: str | None, raw: str, canonical: str, value: float
) -> None:
    sampled = {"value": raw, "measurand": measurand, **({"unit": unit} if unit else {})}
    [sample] = normalise_meter_values([{"timestamp": T, "sampledValue": [sampled]}]).samples
    assert sample.unit == canonical and math.isclose(sample.value, value)


def test_16_defaults_apply() -> None:
    [sample] = normalise_meter_values([{"timestamp": T, "sampledValue": [{"value": "5"}]}]).samples
    assert sample == Sample(T, "Energy.Active.Import.Register", None, "Wh", "Sample.Periodic", "Outlet", 5.0)


def test_signed_data_is_kept_raw() -> None:
    raw = "OCMF|{...}|{SA:ECDSA-secp256r1-SHA256}"
    readings = normalise_meter_values(
        [
            {
                "timestamp": T,
                "sampledValue": [{"value": raw, "format": "SignedData", "context": "Transaction.End"}],
            }
        ]
    )
    assert readings.samples == ()
    assert readings.signed == (
        SignedSample(T, "Energy.Active.Import.Register", None, None, "Transaction.End", "Outlet", raw),
    )


def test_bad_values_are_reported_and_the_rest_kept() -> None:
    readings = normalise_meter_values(
        [
            {
                "timestamp": T,
                "sampledValue": [
                    {"value": "n/a"},
                    {"value": "1e999"},
                    {"value": "5", "measurand": "Temperature", "unit": "kWh"},
                    {"value": "5", "measurand": "Voltage.L1"},
                    {"value": "5", "unit": "parsecs"},
                    {"value": 5},
                    "junk",
                    {"value": "7", "unit": "kWh"},
                ],
            },
            {"timestamp": T},
        ]
    )
    assert [s.value for s in readings.samples] == [7000.0]
    assert [p.path for p in readings.problems] == [
        *(f"$.meterValue[0].sampledValue[{i}]" for i in range(7)),
        "$.meterValue[1]",
    ]
    assert all(isinstance(p, MeterProblem) and p.reason for p in readings.problems)


@settings(max_examples=200)
@given(
    st.lists(
        st.recursive(
            st.none() | st.text(max_size=5) | st.integers(),
            lambda x: (
                st.lists(x)
                | st.dictionaries(
                    st.sampled_from(["timestamp", "sampledValue", "value", "unit", "measurand", "format"]), x
                )
            ),
        ),
        max_size=4,
    )
)
def test_arbitrary_input_never_raises_and_accounts_for_every_value(meter_value: list[Any]) -> None:
    readings = normalise_meter_values(meter_value)
    expected = sum(
        len(entry["sampledValue"])
        if isinstance(entry, dict)
        and isinstance(entry.get("timestamp"), str)
        and isinstance(entry.get("sampledValue"), list)
        else 1
        for entry in meter_value
    )
    assert len(readings.samples) + len(readings.signed) + len(readings.problems) == expected
