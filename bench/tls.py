"""The cost of TLS per message: the standard bench's saturation and one ramp step against chargeward
over plain ``ws://`` (security profile 0) and over ``wss://`` at security profile 2 (TLS and HTTP
Basic), in one run, alternating, so both see the same machine.

``python -m bench.tls`` makes a CA and a server certificate (ECDSA P-256, with ``cryptography``), a
config with ``tls_cert``/``tls_key``, ``security_profile = 2`` and a password hash for every
simulated station, runs the pairs, and writes bench/results/tls.json and tls.md. The Basic check is
paid once per connection, at the upgrade, before the measured load steps: what differs within them
is the TLS record layer (and its reads and writes) on every frame.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import platform
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.station_passwords import hash_password, new_password
from bench.loadgen import raise_open_file_limit
from bench.scenarios import Scenario, drive
from bench.servers import BUILTIN, ServerSpec, running

RESULTS = Path(__file__).resolve().parent / "results"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """(CA file, server certificate, server key) for 127.0.0.1, written under ``directory``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("bench CA"))
        .issuer_name(_name("bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def profile_2_config(directory: Path, cert: Path, key: Path, station_ids: list[str], password: str) -> Path:
    """A config serving wss:// at security profile 2, every station with ``password``."""
    hashed = hash_password(password)  # one hash for all: the bench measures messages, not logins
    lines = [
        "[server]",
        f'tls_cert = "{cert}"',
        f'tls_key = "{key}"',
        "[fleet]",
        "security_profile = 2",
        "auth_max_failures = 100000",
    ]
    for station_id in station_ids:
        lines += [f'[stations."{station_id}"]', f'password_hash = "{hashed}"']
    path = directory / "profile2.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def negotiated(port: int, ca_file: Path) -> dict[str, Any]:
    """The TLS version and cipher a default Python client gets from the server on ``port``."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cipher = tls.cipher()
        return {"version": tls.version(), "cipher": cipher[0] if cipher else None}


def _row(run: dict[str, Any]) -> dict[str, Any]:
    step = run["steps"][0]
    return {
        "server": run["server"],
        "scenario": run["scenario"],
        "offered": step["offered_rate"],
        "achieved": step["achieved_rate"],
        "p50_ms": step["all"].get("p50_ms"),
        "p99_ms": step["all"].get("p99_ms"),
        "cpu_s_per_1000": step.get("server_cpu_s_per_1000"),
        "errors": sum(step["errors"].values()) + sum(step["timeouts"].values()),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        "# The cost of TLS per message (security profile 2 against plain ws)",
        "",
        f"Taken {results['when']} on {results['machine']}; load average (1, 5, 15 min) before the run "
        f"{results['load_before']}, after {results['load_after']}. The machine is shared with other "
        "work and was loaded: absolute figures move between runs, so compare only the rows of this "
        "run, which alternate ws and wss on the same machine within minutes.",
        "",
        f"`ws`: `chargeward serve` at security profile 0. `wss`: the same at profile 2 (TLS and HTTP Basic; "
        f"the server's ECDSA P-256 certificate; negotiated {results['tls']['version']} "
        f"{results['tls']['cipher']}). The same simulated 1.6 stations (`bench/loadgen.py`, "
        "`--ca-file`, `--password`) in both. Basic is checked once per connection, at the upgrade, "
        "before the measured steps.",
        "",
        "| transport | scenario | offered/s | achieved/s | p50 ms | p99 ms | server CPU s/1000 msg"
        " | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        offered = "closed" if r["offered"] is None else f"{r['offered']:g}"
        lines.append(
            f"| {r['server']} | {r['scenario']} | {offered} | {r['achieved']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu_s_per_1000']:.3f} | {r['errors']} |"
        )
    lines += ["", "## TLS cost (means of the rows above per transport)", ""]
    lines += [
        "| scenario | CPU s/1000 msg ws | wss | wss - ws per message | p99 ms ws | wss | achieved/s ws"
        " | wss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario, c in results["comparison"].items():
        lines.append(
            f"| {scenario} | {c['ws']['cpu_s_per_1000']:.3f} | {c['wss']['cpu_s_per_1000']:.3f} | "
            f"{1000 * (c['wss']['cpu_s_per_1000'] - c['ws']['cpu_s_per_1000']):.0f} µs "
            f"({100 * (c['wss']['cpu_s_per_1000'] / c['ws']['cpu_s_per_1000'] - 1):+.0f}%) | "
            f"{c['ws']['p99_ms']:.2f} | {c['wss']['p99_ms']:.2f} | {c['ws']['achieved']:.0f} | "
            f"{c['wss']['achieved']:.0f} |"
        )
    lines += [
        "",
        f"Server CPU per message, wss minus ws, in each of the {results['rounds']} back-to-back pairs (µs): "
        + "; ".join(
            f"{scenario} " + ", ".join(f"{d:+.0f}" for d in diffs)
            for scenario, diffs in results["pair_differences_us"].items()
        )
        + ". Their spread is the noise of this machine.",
        "",
        f"Raw runs: [tls.json](tls.json) (`python -m bench.tls --rounds {results['rounds']}`, "
        f"{results['wall_s']:.0f} s).",
    ]
    return "\n".join(lines) + "\n"


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if r[key] is not None]
    return sum(values) / len(values) if values else float("nan")


async def run(rounds: int) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    scenarios = [
        Scenario("saturation", stations=100, duration=15.0),
        Scenario("ramp", stations=200, rates=(300.0,), duration=10.0),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        directory = Path(tmp)
        ca_file, cert, key = make_pki(directory)
        password = new_password()
        ids = sorted({i for s in scenarios for p in s.plans("") for i in p.station_ids})
        config = profile_2_config(directory, cert, key, ids, password)
        plain = ServerSpec("ws", BUILTIN["chargeward"].argv, metrics_path="/metrics")
        secure = ServerSpec(
            "wss",
            (*BUILTIN["chargeward"].argv, "--config", str(config)),
            metrics_path="/metrics",
            scheme="wss",
        )
        runs: list[dict[str, Any]] = []
        tls: dict[str, Any] = {}
        for scenario in scenarios:
            for _ in range(rounds):
                for spec in (plain, secure):
                    print(f"bench tls: {scenario.name} on {spec.name} ...", file=sys.stderr, flush=True)
                    with_tls = (
                        Scenario(**{**scenario.__dict__, "ca_file": str(ca_file), "password": password})
                        if spec is secure
                        else scenario
                    )
                    async with running(spec) as server:
                        if spec is secure and not tls:
                            tls = await trio.to_thread.run_sync(negotiated, server.port, ca_file)
                        runs.append(await drive(server.url, with_tls, server))
    rows = [_row(r) for r in runs]
    pairs = {
        scenario.name: [
            1000 * (wss["cpu_s_per_1000"] - ws["cpu_s_per_1000"])
            for ws, wss in zip(
                [r for r in rows if r["scenario"] == scenario.name and r["server"] == "ws"],
                [r for r in rows if r["scenario"] == scenario.name and r["server"] == "wss"],
                strict=True,
            )
        ]
        for scenario in scenarios
    }
    comparison = {
        scenario.name: {
            transport: {
                key: _mean(
                    [r for r in rows if r["scenario"] == scenario.name and r["server"] == transport], key
                )
                for key in ("cpu_s_per_1000", "p99_ms", "achieved")
            }
            for transport in ("ws", "wss")
        }
        for scenario in scenarios
    }
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"CPython {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}",
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": time.monotonic() - started,
        "tls": tls,
        "rows": rows,
        "comparison": comparison,
        "pair_differences_us": pairs,
        "rounds": rounds,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__)
    parser.add_argument("--rounds", type=int, default=1, help="ws/wss pairs per scenario")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    raise_open_file_limit()
    results = trio.run(run, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tls.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    text = markdown(results)
    (args.out / "tls.md").write_text(text)
    print(text)
    failed = any(r["errors"] for r in results["rows"]) or any(
        r["setup"]["set_up"] != r["stations"] for r in results["runs"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
