"""The shipped alert rules pass promtool, and the Grafana dashboard only queries exported metrics.

(That each alert rule names only exported metrics is checked in test_prometheus.py, through the
rules API of a Prometheus that loaded the file.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.metrics import MODBUS_DEVICE_STALE, SPECS, markdown
from tests.metrics.scrape import family_of

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "chargeward.json"
KNOWN = {spec.name for spec in (*SPECS, MODBUS_DEVICE_STALE)}
METRIC = re.compile(r"\bchargeward_[a-z0-9_]+")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not on PATH (deploy/install-prometheus.sh installs it)")
    return found


def metrics_in(expr: str) -> set[str]:
    return {family_of(name) for name in METRIC.findall(expr)}


def test_promtool_accepts_the_alert_rules() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout + done.stderr


def test_alert_rules_fire_as_their_unit_tests_expect() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_panels_query_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    titles = {p["title"] for p in dashboard["panels"] if p["type"] == "row"}
    assert {"Fleet", "Connector status", "Power and energy", "Latency", "Errors", "Sites"} <= titles
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"]), "panel ids are unique"
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            found = metrics_in(target["expr"])
            assert found, f"panel {panel['title']!r}: {target['expr']!r} names no chargeward metric"
            assert found <= KNOWN, f"panel {panel['title']!r}: unknown {found - KNOWN}"
            used |= found
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']!r} is wider than the grid"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert metrics_in(variable["definition"]) <= KNOWN
    wanted = {
        "chargeward_stations_connected",
        "chargeward_connector_status",
        "chargeward_connector_power_watts",
        "chargeward_connector_energy_watt_hours",
        "chargeward_ocpp_latency_seconds",
        "chargeward_ocpp_call_errors_total",
        "chargeward_site_load_amperes",
        "chargeward_site_headroom_amperes",
        "chargeward_site_allocation_amperes",
        "chargeward_site_rounds_total",
        "chargeward_site_over_limit_seconds_total",
        "chargeward_site_profile_sends_total",
    }
    assert wanted <= used


INSTALLER = DEPLOY / "install-prometheus.sh"


def test_installer_does_nothing_when_prometheus_is_there() -> None:
    promtool()  # skips when Prometheus is missing: then this run would install it
    done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_installer_fails_clearly_without_prometheus_or_apt(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with no prometheus, promtool or apt-get
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(shutil.which("id") or "/usr/bin/id")
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(INSTALLER)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": str(bin_dir)},
    )
    assert done.returncode != 0
    assert "no apt-get here; install Prometheus" in done.stderr


def test_the_deploy_readme_lists_the_metrics_of_the_catalog() -> None:
    assert markdown() in (DEPLOY / "README.md").read_text()
