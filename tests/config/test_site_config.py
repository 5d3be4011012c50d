"""``[sites.<id>]``: a site, its circuits and connectors parse into frozen dataclasses; every mistake is
one ``file: key: reason``; README's worked example parses and allocates as the README says."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from actors.sites import (
    Circuit,
    ConnectorId,
    ConnectorSettings,
    Demand,
    Member,
    Optimizer,
    Pacing,
    Planning,
    Policy,
    Site,
    allocate,
    levels_of,
)
from adapters.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[sites.depot]
max_current = 32
max_power = 22000
voltage = 240
meter = "grid-meter"
min_current = 8
policy = "fifo"
stations = ["CP-1", "CP-2", "CP-3"]
failsafe_current = 0

[[sites.depot.circuits]]
name = "row-a"
max_current = 25
stations = ["CP-1", "CP-2:2"]

[[sites.depot.circuits]]
name = "row-a-left"
parent = "row-a"
max_power = 7400
stations = ["CP-1:1"]

[sites.depot.connectors."CP-3"]
phases = [2]

[sites.depot.connectors."CP-3:1"]
priority = 2
phases = [1, 3]
max_current = 16

[sites.yard]
max_power = 11000
stations = ["Y-1"]
"""


def parse(text: str) -> tuple[Site, ...]:
    return parse_config(tomllib.loads(text), "site.toml").sites


def test_a_site_with_circuits_and_connectors() -> None:
    depot, yard = parse(GOOD)
    assert depot == Site(
        "depot",
        ("CP-1", "CP-2", "CP-3"),
        32.0,
        22000.0,
        voltage=240.0,
        meter="grid-meter",
        min_current=8.0,
        policy=Policy.FIFO,
        failsafe_current=0.0,
        circuits=(
            Circuit("row-a", None, 25.0, None, (Member("CP-1"), Member("CP-2", 2))),
            Circuit("row-a-left", "row-a", None, 7400.0, (Member("CP-1", 1),)),
        ),
        connectors={
            Member("CP-3"): ConnectorSettings(phases=(2,)),
            Member("CP-3", 1): ConnectorSettings(2, (1, 3), 16.0),
        },
    )
    assert yard == Site("yard", ("Y-1",), max_power=11000.0, failsafe_current=6.0)
    on = depot.circuit_of
    assert [on(ConnectorId("CP-1", 1)), on(ConnectorId("CP-1", 2)), on(ConnectorId("CP-2", 2))] == [
        "row-a-left",
        "row-a",
        "row-a",
    ]
    assert on(ConnectorId("CP-2", 1)) is None  # on the site itself
    assert depot.settings_of(ConnectorId("CP-3", 2)).phases == (2,)
    assert depot.settings_of(ConnectorId("CP-3", 1)).priority == 2
    assert depot.settings_of(ConnectorId("CP-1", 1)) == ConnectorSettings()


SITE = '[sites.s]\nmax_current = 32\nstations = ["A", "B"]\n'
CIRCUIT = "[[sites.s.circuits]]\n"

BAD = [
    ('[sites.s]\nstations = ["A"]\n', "sites.s.max_current", "needs max_current, max_power or both"),
    ('[sites.s]\nmax_current = -5\nstations = ["A"]\n', "sites.s.max_current", "must be a positive number"),
    ('[sites.s]\nmax_power = 0\nstations = ["A"]\n', "sites.s.max_power", "must be a positive number"),
    ("[sites.s]\nmax_current = 32\n", "sites.s.stations", "is required"),
    ("[sites.s]\nmax_current = 32\nstations = []\n", "sites.s.stations", "non-empty list"),
    (SITE + 'policy = "fair"\n', "sites.s.policy", "must be one of"),
    (SITE + "min_current = 40\n", "sites.s.min_current", "above the site's max_current (32 A)"),
    (
        '[sites.s]\nmax_power = 1000\nstations = ["A"]\n',
        "sites.s.min_current",
        "above the site's max_power",
    ),
    (SITE + "failsafe_current = 3\n", "sites.s.failsafe_current", "must be 0 (stop) or at least min_current"),
    (SITE + "failsafe_current = 40\n", "sites.s.failsafe_current", "above the site's max_current"),
    (SITE + "colour = 1\n", "sites.s.colour", "unknown key"),
    (
        SITE + "failsafe_current = 16\n" + '[sites.s.connectors."B:2"]\n',
        "sites.s.failsafe_current",
        "3 connectors x 16 A = 48 A on a phase is above the max_current of the site (32 A)",
    ),
    (
        '[sites.s]\nmax_power = 7000\nstations = ["A", "B"]\n',
        "sites.s.failsafe_current",
        "2 connectors at 6 A = 8280 W is above the max_power of the site (7000 W)",
    ),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 10\nstations = ["A", "B"]\n',
        "sites.s.failsafe_current",
        "2 connectors x 6 A = 12 A on a phase is above the max_current of circuit 'c' (10 A)",
    ),
    (SITE + 'optimizer = "greedy"\n', "sites.s.optimizer", "must be one of"),
    (SITE + "peak_target = 20000\n", "sites.s.peak_target", "is for the optimizer"),
    (SITE + 'optimizer = "fastest"\npeak_target = -1\n', "sites.s.peak_target", "positive number of W"),
    (SITE + "plan_slot = 30\n", "sites.s.plan_slot", "from 60 to 86400"),
    (SITE + "plan_slot = 900\nplan_horizon = 1000\n", "sites.s.plan_horizon", "multiple of plan_slot"),
    (SITE + "plan_slot = 60\nplan_horizon = 604800\n", "sites.s.plan_horizon", "at most 2016"),
    (
        SITE + '[sites.t]\nmax_current = 32\nstations = ["C", "A"]\n',
        "sites.t.stations",
        "'A' is already in site 's'",
    ),
    (SITE + CIRCUIT + 'name = "c"\nstations = ["A"]\n', "sites.s.circuits[0].max_current", "a circuit needs"),
    (SITE + CIRCUIT + 'name = "c"\nmax_current = -1\n', "sites.s.circuits[0].max_current", "positive"),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 4\n',
        "sites.s.circuits[0].max_current",
        "below the site's min",
    ),
    (
        SITE + "failsafe_current = 10\n" + CIRCUIT + 'name = "c"\nmax_current = 8\n',
        "sites.s.circuits[0].max_current",
        "below the site's failsafe_current (10 A)",
    ),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 9\nparent = "d"\n',
        "sites.s.circuits[0].parent",
        "no circuit named 'd'",
    ),
    (
        SITE
        + CIRCUIT
        + 'name = "c"\nmax_current = 9\nparent = "d"\n'
        + CIRCUIT
        + 'name = "d"\nmax_current = 9\nparent = "c"\n',
        "sites.s.circuits[0].parent",
        "circuits c -> d -> c form a cycle",
    ),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 9\nparent = "c"\n',
        "sites.s.circuits[0].parent",
        "c -> c form a cycle",
    ),
    (SITE + CIRCUIT + 'name = "s"\nmax_current = 9\n', "sites.s.circuits[0].name", "already the name"),
    (
        SITE
        + CIRCUIT
        + 'name = "c"\nmax_current = 9\nstations = ["A:1"]\n'
        + CIRCUIT
        + 'name = "d"\nmax_current = 9\nstations = ["A:1"]\n',
        "sites.s.circuits[1].stations",
        "'A:1' is already on circuit 'c'",
    ),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 9\nstations = ["Z"]\n',
        "sites.s.circuits[0].stations",
        "'Z' is not one",
    ),
    (
        SITE + CIRCUIT + 'name = "c"\nmax_current = 9\nstations = ["A:0"]\n',
        "sites.s.circuits[0].stations",
        "numbered from 1",
    ),
    (SITE + '[sites.s.connectors."Q:1"]\npriority = 1\n', "sites.s.connectors.Q:1", "'Q' is not one"),
    (
        SITE + '[sites.s.connectors."A:1"]\nphases = [1, 1]\n',
        "sites.s.connectors.A:1.phases",
        "distinct phases",
    ),
    (SITE + '[sites.s.connectors."A"]\nphases = [4]\n', "sites.s.connectors.A.phases", "distinct phases"),
    (
        SITE + '[sites.s.connectors."A"]\nmax_current = 5\n',
        "sites.s.connectors.A.max_current",
        "below the site's min",
    ),
    (SITE + '[sites.s.connectors."A"]\nweight = 5\n', "sites.s.connectors.A.weight", "unknown key"),
    (SITE + "round_interval = 0\n", "sites.s.round_interval", "must be a number >= 0.1"),
    (SITE + "deadband = -1\n", "sites.s.deadband", "must be a number >= 0"),
    (SITE + "round_interval = 200\n", "sites.s.profile_validity", "at least twice round_interval"),
    (
        SITE
        + 'meter = "wb"\n[[modbus.devices]]\nid = "wb"\ntransport = "tcp"\nhost = "127.0.0.1"\nunit = 1\n'
        'profile = "simpleevse_wb"\nstation = "A"\nconnector = 1\n',
        "sites.s.meter",
        "is an EVSE controller, not a meter",
    ),
    (
        SITE + '[[modbus.devices]]\nid = "g"\ntransport = "tcp"\nhost = "127.0.0.1"\nunit = 1\n'
        'profile = "eastron_sdm630"\nsite = "depot"\n',
        "modbus.devices[0].site",
        "no site 'depot' in [sites]",
    ),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD, ids=[f"{k}:{r[:24]}" for _, k, r in BAD])
def test_a_bad_site_names_the_file_the_key_and_the_reason(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(text)
    assert (error.value.source, error.value.key) == ("site.toml", key)
    assert reason in error.value.reason


def test_the_pacing_keys_parse() -> None:
    (site,) = parse(SITE + "round_interval = 2\ndebounce = 0\nmin_interval = 5\nprofile_validity = 4\n")
    assert site.pacing == Pacing(round_interval=2.0, debounce=0.0, min_interval=5.0, profile_validity=4.0)
    assert parse(SITE)[0].pacing == Pacing()


def test_the_optimizer_keys_parse() -> None:
    (site,) = parse(
        SITE + 'optimizer = "cheapest"\npeak_target = 11000\nplan_slot = 600\nplan_horizon = 43200\n'
    )
    assert site.planning == Planning(Optimizer.CHEAPEST, 11000.0, 600, 72)
    assert parse(SITE)[0].planning == Planning()  # off unless asked for


def test_the_module_example_parses() -> None:
    import adapters.site_config

    doc = adapters.site_config.__doc__ or ""
    example = textwrap.dedent(doc[doc.index("Example::") + len("Example::") : doc.index("A connector is")])
    [depot] = parse(example)
    assert depot.circuit_of(ConnectorId("CP-1", 1)) == "row-a-left"
    assert depot.circuit_of(ConnectorId("CP-1", 2)) == "row-a"


SERVE_BAD = [
    (
        SITE + CIRCUIT + 'name = "carport"\nmax_current = 16\n' + CIRCUIT + 'name = "left"\nmax_current = 9\n'
        'parent = "carpark"\n',
        "sites.s.circuits[1].parent: no circuit named 'carpark' in site 's'",
    ),
    (
        SITE + "failsafe_current = 20\n",
        "sites.s.failsafe_current: 2 connectors x 20 A = 40 A on a phase is above the max_current of the "
        "site (32 A): lower failsafe_current or raise the limit",
    ),
    (
        SITE + 'optimizer = "cheapest"\nplan_slot = 900\nplan_horizon = 1000\n',
        "sites.s.plan_horizon: must be a whole multiple of plan_slot (900 s), got 1000",
    ),
]


@pytest.mark.parametrize(("text", "line"), SERVE_BAD, ids=["circuit", "failsafe", "optimizer"])
def test_serve_refuses_a_bad_site_with_one_line_and_exit_2(tmp_path: Path, text: str, line: str) -> None:
    file = tmp_path / "chargeward.toml"
    file.write_text(text)
    chargeward = Path(sys.executable).with_name("chargeward")  # the installed command an operator runs
    command = [
        str(chargeward),
        "serve",
        "--data-dir",
        str(tmp_path),
        "--config",
        str(file),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"chargeward: {file}: {line}"]
    assert not (tmp_path / "events.db").exists()  # nothing started


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Sites: load management") :]
    return section[: section.index("\n## ", 1)]


def test_every_site_key_is_in_the_readme() -> None:
    """The walk of ``Config`` in test_cli_merge stops at ``sites``; the site's own keys are checked here."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    # pacing's and planning's keys sit in the site's table; planning's under their own names
    renamed = {"id": None, "members": "stations", "pacing": None, "planning": None, "_on": None}
    renamed |= {"mode": "optimizer", "slot": "plan_slot", "slots": "plan_horizon"}
    classes = (Site, Circuit, ConnectorSettings, Pacing, Planning)
    keys = {renamed.get(f.name, f.name) for cls in classes for f in fields(cls)}
    written = set(re.findall(r"^(\w+) = ", section, re.M)) | set(re.findall(r"\[sites\.\w+\.(\w+)", section))
    assert sorted(k for k in keys if k is not None and k not in written) == []


def test_the_readme_grid_meter_example_parses() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", _readme_section(), re.S)
    [example] = [block for block in blocks if "[[modbus.devices]]" in block]
    [depot] = parse(example)
    assert depot.meter == "grid" and depot.pacing.min_interval == 10.0


def test_the_readme_worked_example_parses_and_allocates_as_it_says() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", _readme_section(), re.S)
    [circuits] = [block for block in blocks if "[[sites.depot.circuits]]" in block]
    [depot] = parse(circuits)
    non_ev = {"depot": (10.0, 12.0, 8.0)}
    figures = {}
    for policy in (Policy.EQUAL, Policy.PRIORITY):
        demands = []
        for station in depot.stations:
            connector = ConnectorId(station, 1)
            settings = depot.settings_of(connector)
            demands.append(
                Demand(
                    connector,
                    depot.circuit_of(connector) or depot.id,
                    32.0,
                    depot.min_current,
                    settings.phases,
                    settings.priority,
                )
            )
        allocation = allocate(levels_of(depot, non_ev=non_ev), demands, policy, voltage=depot.voltage)
        figures[policy] = [allocation.currents[d.connector] for d in demands]
    assert figures == {Policy.EQUAL: [10.6, 10.6, 10.6, 21.0], Policy.PRIORITY: [7.0, 7.0, 7.0, 32.0]}
