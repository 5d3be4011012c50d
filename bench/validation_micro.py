"""Micro-benchmark: the cost of validating OCPP 1.6 payloads, ours against the ``ocpp`` package's.

Measured per call, as the median of several rounds (microseconds):

- ``meter_values_strict_us`` / ``meter_values_lenient_us``: a MeterValues CALL payload with 10
  sampled values through :class:`actors.ocpp.Validator` (compiled with fastjsonschema; lenient
  also walks the schema for alias spellings, since the 1.6 unit enum holds ``Celcius``);
- ``meter_values_ocpp_us``: the same payload through the ``ocpp`` package's synchronous path,
  ``messages._validate_payload`` (stock jsonschema Draft4Validator, cached per action). The public
  ``validate_payload`` is async and hands the work to asyncio's executor, so it cannot run under trio;
- ``meter_values_jsonschema_oneshot_us``: ``jsonschema.validate(payload, schema)``, which checks the
  schema and builds a validator on every call: the naive way, and the likely source of the ~1.35 ms
  figure in bench/results/README.md (the ``ocpp`` package itself caches its validator);
- ``frame_*_us``: a whole incoming frame on the CSMS side: parse the text, validate the payload,
  encode the CALLRESULT, through the :class:`actors.ocpp.Session` engine.

Run ``python -m bench.validation_micro`` for JSON on stdout.
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import jsonschema
from ocpp import messages as ocpp_messages

from actors.ocpp import Call, CallReceived, Policy, Role, Session, Validator, encode_frame

_MEASURANDS = [
    ("Energy.Active.Import.Register", None, "Wh", "60890"),
    ("Power.Active.Import", None, "W", "7360.5"),
    ("Current.Import", "L1", "A", "10.7"),
    ("Current.Import", "L2", "A", "10.6"),
    ("Current.Import", "L3", "A", "10.8"),
    ("Voltage", "L1-N", "V", "229.8"),
    ("Voltage", "L2-N", "V", "231.0"),
    ("Voltage", "L3-N", "V", "230.2"),
    ("Frequency", None, "Hertz", "50.01"),
    ("Temperature", None, "Celsius", "31"),
]


def meter_values_payload() -> dict[str, Any]:
    """A valid MeterValues request with 10 sampled values, as a 7-22 kW AC charger sends it."""
    sampled = []
    for measurand, phase, unit, value in _MEASURANDS:
        item = {"value": value, "context": "Sample.Periodic", "measurand": measurand, "unit": unit}
        if phase is not None:
            item["phase"] = phase
        sampled.append(item)
    return {
        "connectorId": 1,
        "transactionId": 4711,
        "meterValue": [{"timestamp": "2026-11-21T05:00:00.000Z", "sampledValue": sampled}],
    }


def _per_call_us(fn: Callable[[], object], number: int, rounds: int) -> float:
    fn()  # compile schemas and warm caches outside the measurement
    times = timeit.Timer(fn).repeat(repeat=rounds, number=number)
    return statistics.median(times) / number * 1e6


def _frame_pipeline(validator: Validator, text: str) -> Callable[[], object]:
    def one_frame() -> object:
        session = Session(Role.CSMS)
        [event] = session.receive(text, now=0.0)
        assert isinstance(event, CallReceived)
        validator.validate_request(event.action, event.payload)
        return session.answer(event.unique_id, {})

    return one_frame


def run(number: int = 2000, rounds: int = 5) -> dict[str, Any]:
    """Measure and return the figures (microseconds per call) and the sizes they are for."""
    payload = meter_values_payload()
    strict = Validator("1.6", Policy.STRICT)
    lenient = Validator("1.6", Policy.LENIENT)
    stock = ocpp_messages.Call("1", "MeterValues", payload)
    schema = ocpp_messages.get_validator(2, "MeterValues", "1.6").schema
    meter_text = encode_frame(Call("1", "MeterValues", payload))
    heartbeat_text = encode_frame(Call("2", "Heartbeat", {}))
    stock_number = max(number // 20, 10)  # the stock path is ~40x slower: keep its wall time comparable
    figures = {
        "meter_values_strict_us": _per_call_us(
            lambda: strict.validate_request("MeterValues", payload), number, rounds
        ),
        "meter_values_lenient_us": _per_call_us(
            lambda: lenient.validate_request("MeterValues", payload), number, rounds
        ),
        "meter_values_ocpp_us": _per_call_us(
            lambda: ocpp_messages._validate_payload(stock, "1.6"), stock_number, rounds
        ),
        "meter_values_jsonschema_oneshot_us": _per_call_us(
            lambda: jsonschema.validate(payload, schema), max(number // 50, 5), rounds
        ),
        "frame_meter_values_lenient_us": _per_call_us(_frame_pipeline(lenient, meter_text), number, rounds),
        "frame_heartbeat_lenient_us": _per_call_us(_frame_pipeline(lenient, heartbeat_text), number, rounds),
    }
    return {
        **{key: round(value, 2) for key, value in figures.items()},
        "ocpp_over_strict": round(figures["meter_values_ocpp_us"] / figures["meter_values_strict_us"], 1),
        "sampled_values": len(_MEASURANDS),
        "meter_values_frame_bytes": len(meter_text.encode()),
        "number": number,
        "rounds": rounds,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
