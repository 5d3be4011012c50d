"""The validation micro-bench runs and reports figures that mean what they say."""

from __future__ import annotations

from actors.ocpp import Policy, Validator
from bench.validation_micro import meter_values_payload, run


def test_the_bench_payload_is_a_valid_meter_values_with_ten_samples() -> None:
    payload = meter_values_payload()
    assert Validator("1.6", Policy.STRICT).validate_request("MeterValues", payload).payload is payload
    assert len(payload["meterValue"][0]["sampledValue"]) == 10


def test_a_small_run_reports_every_figure() -> None:
    figures = run(number=20, rounds=2)
    timings = {key: value for key, value in figures.items() if key.endswith("_us")}
    assert set(timings) == {
        "meter_values_strict_us",
        "meter_values_lenient_us",
        "meter_values_ocpp_us",
        "meter_values_jsonschema_oneshot_us",
        "frame_meter_values_lenient_us",
        "frame_heartbeat_lenient_us",
    }
    assert all(value > 0 for value in timings.values())
    assert figures["sampled_values"] == 10 and figures["number"] == 20
