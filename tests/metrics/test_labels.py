"""Label sets stay bounded whatever stations send, and the docs list exactly what is exported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters.metrics
from adapters.config import ConfigError
from adapters.metrics import MODBUS_DEVICE_STALE, SPECS, MetricsOptions, markdown, parse_metrics_options
from adapters.metrics.snapshot import ACTIONS, OTHER, action_label, repair_series

vendors = st.text(min_size=1, max_size=20)
paths = st.builds(
    lambda field, index: f"$.meterValue[{index}].{field}",
    st.sampled_from(["unit", "measurand", "value", "timestamp"]),
    st.integers(0, 50),
)
repairs = st.dictionaries(st.tuples(vendors, paths), st.integers(1, 1000), max_size=60)


@settings(max_examples=60, deadline=None)
@given(repairs=repairs, max_vendors=st.integers(1, 5), max_series=st.integers(1, 10))
def test_repair_series_are_capped_and_lose_no_count(
    repairs: dict[tuple[str, str], int], max_vendors: int, max_series: int
) -> None:
    out = repair_series(repairs, max_vendors, max_series)
    assert sum(out.values()) == sum(repairs.values()), "capping folds counts, never drops them"
    assert len({v for v, _ in out} - {OTHER}) <= max_vendors
    assert len(out) <= max_series + 1  # + the (other, other) overflow series
    assert all("[" not in f or "[]" in f for _, f in out), "array indices are folded"
    first = list(dict.fromkeys(v for v, _ in repairs))[:max_vendors]
    assert {v for v, _ in out} - {OTHER} <= set(first), "the first vendors seen keep their names"


@given(st.text(max_size=30))
def test_action_labels_come_from_a_closed_set(action: str) -> None:
    assert action_label(action) in ACTIONS | {OTHER}


def test_every_metric_is_in_the_module_docstring_and_the_markdown() -> None:
    doc = adapters.metrics.__doc__ or ""
    table = markdown()
    for spec in (*SPECS, MODBUS_DEVICE_STALE):
        assert f"``{spec.name}" in doc or f"{spec.name}``" in doc, spec.name
        assert f"`{spec.name}`" in table
        assert spec.kind in ("counter", "gauge", "histogram")
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name


def test_metrics_options_from_the_config_table() -> None:
    options = parse_metrics_options({"per_connector": False, "max_vendors": 5}, "c.toml")
    assert options == MetricsOptions(per_connector=False, max_vendors=5)
    assert parse_metrics_options({}, "c.toml") == MetricsOptions()


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ({"per_conector": False}, "metrics.per_conector", "unknown key"),
        ({"per_connector": "no"}, "metrics.per_connector", "must be bool"),
        ({"max_vendors": True}, "metrics.max_vendors", "must be int"),
        ({"max_repair_series": 0}, "metrics.max_repair_series", "must be >= 1"),
    ],
)
def test_bad_metrics_options_name_the_key(table: dict[str, object], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_metrics_options(table, "c.toml")
    assert (caught.value.source, caught.value.key) == ("c.toml", key)
    assert reason in caught.value.reason
