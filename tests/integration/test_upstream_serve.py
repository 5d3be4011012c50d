"""chargeward as a local controller, end to end: an ``ocpp`` package station on a real local
``chargeward serve`` whose ``[upstream]`` is a second real ``chargeward serve``.

The local one answers Authorize with Invalid for unknown tags and the upstream with Accepted, and
their heartbeat intervals differ, so which of them answered is visible in the station's replies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from adapters.station_passwords import hash_password
from tests.integration.faked_wall_clock import FakedWallClock
from tests.integration.peer import peer_station
from tests.integration.serving import ROOT
from tests.integration.upstream_peers import (
    LOCAL_CONFIG,
    UPSTREAM_CONFIG,
    calls_received,
    chargeward,
    eventually,
    ocpp_url,
    stream,
)
from tests.modbus.conftest import free_port

T0 = "2026-11-27T08:00:00Z"


def sample(at: str, wh: int) -> list[dict[str, object]]:
    return [
        {"timestamp": at, "sampled_value": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}]}
    ]


async def upstream_links(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/api/upstream")
    assert answer.status_code == 200, answer.text
    return {link["station_id"]: link for link in answer.json()["stations"]}


async def test_calls_are_forwarded_and_upstream_commands_relayed(tmp_path: Path) -> None:
    port = free_port()
    async with (
        chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
        chargeward(tmp_path / "local", LOCAL_CONFIG.format(port=port)) as local,
        httpx.AsyncClient(base_url=upstream.api_url, timeout=20) as up_api,
        httpx.AsyncClient(base_url=local.api_url, timeout=20) as local_api,
        peer_station(ocpp_url(local), "CP-1") as station,
    ):
        # The station's link opens as it connects (its first calls wait for it for a while; a loaded
        # machine may take longer, so wait here).
        await eventually(
            lambda: upstream_links(local_api), lambda links: links.get("CP-1", {}).get("state") == "live"
        )
        boot = await station.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        assert boot["status"] == "Accepted" and boot["interval"] == 77  # the upstream's answer
        assert (await station.call("Authorize", id_tag="NEW-TAG"))["id_tag_info"]["status"] == "Accepted"

        started = await station.call(
            "StartTransaction", connector_id=1, id_tag="NEW-TAG", meter_start=0, timestamp=T0
        )
        local_id = started["transaction_id"]
        assert started["id_tag_info"]["status"] == "Accepted"
        await station.call(
            "MeterValues", connector_id=1, transaction_id=local_id, meter_value=sample(T0, 100)
        )

        upstream_calls = await calls_received(up_api, "CP-1")
        assert [action for action, _ in upstream_calls] == [
            "BootNotification",
            "Authorize",
            "StartTransaction",
            "MeterValues",
        ]
        upstream_id = (await up_api.get("/api/transactions")).json()["transactions"][0]["transaction_id"]
        assert upstream_calls[3][1]["transactionId"] == upstream_id  # rewritten to the upstream's id

        # A command from the upstream reaches the station with the local id; its reply goes back.
        async with trio.open_nursery() as nursery:
            answers: list[httpx.Response] = []

            async def remote_stop() -> None:
                answers.append(
                    await up_api.post(
                        "/api/stations/CP-1/commands/RemoteStopTransaction",
                        json={"transactionId": upstream_id},
                    )
                )

            nursery.start_soon(remote_stop)
            received = await station.next_received()
        assert received["received"] == "RemoteStopTransaction"
        assert received["payload"]["transaction_id"] == local_id
        assert answers[0].status_code == 200 and answers[0].json()["payload"] == {"status": "Accepted"}

        link = await eventually(lambda: local_api.get("/api/upstream"), lambda r: r.status_code == 200)
        (cp1,) = link.json()["stations"]
        assert cp1["station_id"] == "CP-1" and cp1["state"] == "live" and cp1["backlog"] == 0
        local_events = [e["type"] for e in await stream(local_api, "CP-1")]
        assert "TransactionStarted" in local_events and "UpstreamReplied" in local_events
        # This build re-decides the local log the same: the upstream's answers are taken as input.
        config = str(tmp_path / "local" / "chargeward.toml")
        command = [sys.executable, "-m", "adapters.cli", "replay", "--data-dir", str(tmp_path / "local")]
        same = await trio.run_process(
            [*command, "--rerun", "--config", config], cwd=ROOT, capture_stdout=True
        )
        assert b": 0 differences" in same.stdout, same.stdout


def metric_values(text: str) -> dict[str, float]:
    """The samples of an exposition text: series (name and labels as written) -> value."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            found[series] = float(value)
    return found


HOUR = 60  # minutes of meter values recorded while the upstream is gone


def at(minute: int) -> str:
    """08:00 plus ``minute`` minutes, as a station timestamps it."""
    return f"2026-11-27T{8 + minute // 60:02d}:{minute % 60:02d}:00Z"


@pytest.fixture
def clock(tmp_path: Path) -> Iterator[FakedWallClock]:
    """The local controller's simulated wall clock (skips, or fails under CI, without libfaketime)."""
    faked = FakedWallClock(tmp_path)
    yield faked
    faked.close()


async def test_an_hour_offline_mid_transaction_is_caught_up_in_order(
    tmp_path: Path, clock: FakedWallClock
) -> None:
    """The upstream is killed mid-transaction, an hour passes for the local controller with a meter
    value a minute, the upstream comes back: the whole transaction reaches it in order.

    The hour is simulated, and it passes for the server, not only in the station's timestamps: the
    local ``chargeward serve`` runs under libfaketime (``tests/integration/faked_wall_clock.py``) and
    the test moves its wall clock a minute on before each minute's calls. So what the server records
    is an hour apart, and the backlog's age that ``GET /api/upstream`` and the metric (which the
    ``ChargewardUpstreamBacklogOld`` alert reads, promtool-tested in ``deploy/prometheus``) report is
    over an hour by the server's own clock. This keeps every peer real (the process, its SQLite store,
    the ``ocpp`` package's station, a second ``chargeward serve`` as the upstream); an in-process CSMS
    on ``core.clock.VirtualClock`` would be deterministic too, but would no longer test the process an
    operator runs. Only the wall clock is simulated: monotonic time stays real, so the link's backoff,
    the reply and call timeouts and the keep-alives behave as they do in service.
    """
    port = free_port()
    async with (
        chargeward(tmp_path / "local", LOCAL_CONFIG.format(port=port), env=clock.env) as local,
        httpx.AsyncClient(base_url=local.api_url, timeout=20) as local_api,
        peer_station(ocpp_url(local), "CP-1") as station,
    ):
        async with chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream:
            await eventually(
                lambda: upstream_links(local_api), lambda links: links["CP-1"]["state"] == "live"
            )
            await station.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            first = await station.call(
                "StartTransaction", connector_id=1, id_tag="T", meter_start=0, timestamp=at(0)
            )
            local_1 = first["transaction_id"]
            async with httpx.AsyncClient(base_url=upstream.api_url, timeout=20) as up_api:
                upstream_1 = (await up_api.get("/api/transactions")).json()["transactions"][0][
                    "transaction_id"
                ]
        # The upstream is gone (killed): the site goes on under the local policy, all in the log.
        await eventually(lambda: upstream_links(local_api), lambda links: links["CP-1"]["state"] == "down")
        # An hour offline: a meter value a minute, statuses and heartbeats among them.
        between = {
            20: ("StatusNotification", {"connector_id": 1, "status": "SuspendedEV", "error_code": "NoError"}),
            30: ("Heartbeat", {}),
            40: ("StatusNotification", {"connector_id": 1, "status": "Charging", "error_code": "NoError"}),
            50: ("Heartbeat", {}),
        }
        for minute in range(1, HOUR + 1):
            clock.advance(60)  # a minute passes for the server
            meter = sample(at(minute), 100 * minute)
            await station.call("MeterValues", connector_id=1, transaction_id=local_1, meter_value=meter)
            if minute in between:
                action, payload = between[minute]
                await station.call(action, **payload)
        clock.advance(60)
        await station.call("StopTransaction", transaction_id=local_1, meter_stop=99_999, timestamp=at(61))
        clock.advance(60)
        second = await station.call(
            "StartTransaction", connector_id=1, id_tag="T", meter_start=99_999, timestamp=at(62)
        )
        local_2 = second["transaction_id"]
        assert local_2 != local_1
        clock.advance(60)
        await station.call(
            "MeterValues", connector_id=1, transaction_id=local_2, meter_value=sample(at(63), 100_100)
        )
        clock.advance(60)
        await station.call("StopTransaction", transaction_id=local_2, meter_stop=100_200, timestamp=at(64))
        # The server recorded the hour as an hour: the first and the last of the hour's meter values
        # are 59 minutes apart by its own clock.
        received = [
            datetime.fromisoformat(e["time"])
            for e in await stream(local_api, "CP-1")
            if e["type"] == "FrameReceived" and e["data"].get("action") == "MeterValues"
        ]
        assert received[HOUR - 1] - received[0] >= timedelta(minutes=HOUR - 1)
        # The oldest unsent call (the first meter value answered locally) is over an hour old.
        links = await upstream_links(local_api)
        assert links["CP-1"]["backlog"] >= 9 and links["CP-1"]["age"] > 3600
        offline_metrics = metric_values((await local_api.get("/metrics")).text)
        assert offline_metrics['chargeward_upstream_links{state="down"}'] == 1
        assert offline_metrics["chargeward_upstream_backlog_messages"] >= 9
        assert offline_metrics["chargeward_upstream_backlog_age_seconds"] > 3600  # the alert's condition
        assert offline_metrics['chargeward_upstream_calls_total{answer="local"}'] >= 10

        async with (
            chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
            httpx.AsyncClient(base_url=upstream.api_url, timeout=20) as up_api,
        ):
            links = await eventually(
                lambda: upstream_links(local_api),
                lambda links: links["CP-1"]["state"] == "live" and links["CP-1"]["backlog"] == 0,
            )
            assert links["CP-1"]["flaps"] >= 1 and links["CP-1"]["sent"] >= 9
            online_metrics = metric_values((await local_api.get("/metrics")).text)
            calls = await calls_received(up_api, "CP-1")
            transactions = (await up_api.get("/api/transactions")).json()["transactions"]
            upstream_2 = next(t["transaction_id"] for t in transactions if t["transaction_id"] != upstream_1)
        assert online_metrics['chargeward_upstream_links{state="live"}'] == 1
        assert online_metrics["chargeward_upstream_backlog_messages"] == 0
        assert online_metrics["chargeward_upstream_backlog_age_seconds"] == 0
        assert links["CP-1"]["age"] is None
        assert online_metrics["chargeward_upstream_caught_up_total"] >= 9
        assert online_metrics["chargeward_upstream_link_flaps_total"] >= 1
        # Before the outage, live: the boot and the transaction's start (with the upstream's id).
        assert [action for action, _ in calls[: -(HOUR + 6)]] == ["BootNotification", "StartTransaction"]
        caught_up = calls[-(HOUR + 6) :]
        # The hour's meter values in order; only the latest status of connector 1 and the latest
        # heartbeat, where they stand; then the second transaction.
        assert [action for action, _ in caught_up] == [
            *["MeterValues"] * 40,
            "StatusNotification",
            *["MeterValues"] * 10,
            "Heartbeat",
            *["MeterValues"] * 10,
            "StopTransaction",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]
        assert caught_up[40][1]["status"] == "Charging"
        about = [(a, p) for a, p in caught_up if a in ("MeterValues", "StopTransaction")]
        assert [p["transactionId"] for _, p in about] == [upstream_1] * (HOUR + 1) + [upstream_2] * 2
        # Each with its own timestamp, as the station sent it.
        meter_values = [p["meterValue"][0] for a, p in caught_up if a == "MeterValues"]
        assert [m["timestamp"] for m in meter_values] == [at(minute) for minute in range(1, HOUR + 1)] + [
            at(63)
        ]
        assert caught_up[-4][1]["timestamp"] == at(61) and caught_up[-3][1]["timestamp"] == at(62)


async def test_a_kill_9_during_catch_up_resumes_from_the_cursor(tmp_path: Path) -> None:
    upstream_port, local_port = free_port(), free_port()
    config = LOCAL_CONFIG.format(port=upstream_port)
    count = 120
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(chargeward(tmp_path / "local", config, local_port))
        first_api = await stack.enter_async_context(httpx.AsyncClient(base_url=first.api_url, timeout=20))
        station = await stack.enter_async_context(peer_station(ocpp_url(first), "CP-1"))
        # The upstream is not there: everything is answered locally and waits in the log.
        await station.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        started = await station.call(
            "StartTransaction", connector_id=1, id_tag="T", meter_start=0, timestamp=at(0)
        )
        local_id = started["transaction_id"]
        for wh in range(1, count + 1):
            timestamp = f"2026-11-27T08:{wh // 60:02d}:{wh % 60:02d}Z"
            await station.call(
                "MeterValues", connector_id=1, transaction_id=local_id, meter_value=sample(timestamp, wh)
            )
        await station.call("StopTransaction", transaction_id=local_id, meter_stop=count + 1, timestamp=at(59))

        upstream = await stack.enter_async_context(
            chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, upstream_port)
        )
        up_api = await stack.enter_async_context(httpx.AsyncClient(base_url=upstream.api_url, timeout=20))
        at_kill = await eventually(
            lambda: upstream_links(first_api), lambda links: links["CP-1"]["sent"] >= 10, every=0.02
        )
        first.process.kill()  # kill -9, half way through the catch-up
        await first.process.wait()
        assert at_kill["CP-1"]["sent"] < count, "the catch-up ended before the kill: nothing was tested"

        # Restarted, the link resumes from its cursor without waiting for the station to reconnect.
        second = await stack.enter_async_context(chargeward(tmp_path / "local", config, local_port))
        second_api = await stack.enter_async_context(httpx.AsyncClient(base_url=second.api_url, timeout=20))
        await eventually(
            lambda: upstream_links(second_api),
            lambda links: links.get("CP-1", {}).get("state") == "live" and links["CP-1"]["backlog"] == 0,
        )
        calls = await calls_received(up_api, "CP-1")
        upstream_id = (await up_api.get("/api/transactions")).json()["transactions"][0]["transaction_id"]
    actions = [action for action, _ in calls]
    assert (
        actions[0] == "BootNotification"
        and actions[1] == "StartTransaction"
        and actions[-1] == "StopTransaction"
    )
    meter = [p for a, p in calls if a == "MeterValues"]
    values = [int(p["meterValue"][0]["sampledValue"][0]["value"]) for p in meter]
    # At least once, in order: what was sent before the kill (1..k), then everything from the stored
    # cursor on (j..count, j <= k + 1): the calls whose answers were not yet stored go again, no more.
    restart = next((i for i in range(1, len(values)) if values[i] <= values[i - 1]), len(values))
    before, after = values[:restart], values[restart:]
    assert before == list(range(1, len(before) + 1))
    if after:
        assert after == list(range(after[0], count + 1)) and after[0] <= len(before)
    else:
        assert before == list(range(1, count + 1))
    assert len(values) - count < 50, "re-sent far more than the calls in flight at the kill"
    assert {p["transactionId"] for p in meter} == {upstream_id}


async def test_a_2_0_1_station_is_forwarded_and_caught_up_the_same_way(tmp_path: Path) -> None:
    port = free_port()
    async with (
        chargeward(tmp_path / "local", LOCAL_CONFIG.format(port=port)) as local,
        httpx.AsyncClient(base_url=local.api_url, timeout=20) as local_api,
        peer_station(ocpp_url(local), "EV-1", version="2.0.1") as station,
    ):

        def event(kind: str, seq: int, minute: int, **more: Any) -> dict[str, Any]:
            return {
                "event_type": kind,
                "timestamp": at(minute),
                "trigger_reason": "MeterValuePeriodic" if kind == "Updated" else "CablePluggedIn",
                "seq_no": seq,
                "transaction_info": {"transaction_id": "tx-1"},
                **more,
            }

        async with (
            chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
            httpx.AsyncClient(base_url=upstream.api_url, timeout=20) as up_api,
        ):
            await eventually(
                lambda: upstream_links(local_api), lambda links: links.get("EV-1", {}).get("state") == "live"
            )
            boot = await station.call(
                "BootNotification", charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
            assert boot["interval"] == 77  # the upstream's answer
            await station.call(
                "TransactionEvent", **event("Started", 0, 0, evse={"id": 1, "connector_id": 1})
            )
            async with trio.open_nursery() as nursery:
                answers: list[httpx.Response] = []

                async def stop() -> None:
                    path = "/api/stations/EV-1/commands/RequestStopTransaction"
                    answers.append(await up_api.post(path, json={"transactionId": "tx-1"}))

                nursery.start_soon(stop)
                received = await station.next_received()
            assert received["received"] == "RequestStopTransaction"
            assert answers[0].status_code == 200, answers[0].text
        await eventually(lambda: upstream_links(local_api), lambda links: links["EV-1"]["state"] == "down")
        meter = [{"timestamp": at(1), "sampled_value": [{"value": 1500.0}]}]
        await station.call("TransactionEvent", **event("Updated", 1, 1, meter_value=meter))
        await station.call("TransactionEvent", **event("Ended", 2, 2))
        async with (
            chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
            httpx.AsyncClient(base_url=upstream.api_url, timeout=20) as up_api,
        ):
            await eventually(
                lambda: upstream_links(local_api),
                lambda links: links["EV-1"]["state"] == "live" and links["EV-1"]["backlog"] == 0,
            )
            calls = await calls_received(up_api, "EV-1")
    events = [(p["eventType"], p["seqNo"], p["timestamp"]) for a, p in calls if a == "TransactionEvent"]
    assert events == [("Started", 0, at(0)), ("Updated", 1, at(1)), ("Ended", 2, at(2))]


SLOW_LOCAL_CONFIG = """
[upstream]
url = "ws://127.0.0.1:{port}/ocpp"
reply_timeout = 0.5
call_timeout = 10
backoff = 0.2
backoff_max = 1
"""


async def test_a_slow_upstream_gets_everything_once_in_order_while_the_site_is_answered_locally(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "tests.peers.slow_csms", str(port), "1.0"], cwd=ROOT, stdout=subprocess.PIPE
    )
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        assert process.stdout is not None
        buffer = b""
        async for chunk in process.stdout:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                seen.append(json.loads(line))

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await eventually(lambda: _value(seen), lambda found: bool(found))
            async with (
                chargeward(tmp_path / "local", SLOW_LOCAL_CONFIG.format(port=port)) as local,
                httpx.AsyncClient(base_url=local.api_url, timeout=20) as local_api,
                peer_station(ocpp_url(local), "CP-1") as station,
            ):
                await eventually(
                    lambda: upstream_links(local_api),
                    lambda links: links.get("CP-1", {}).get("state") == "live",
                )
                # Too slow for the station: the local policy answers (interval 300, not the upstream's 77).
                boot = await station.call(
                    "BootNotification", charge_point_vendor="Acme", charge_point_model="M"
                )
                assert boot["interval"] != 77
                await station.call(
                    "StatusNotification", connector_id=1, status="Available", error_code="NoError"
                )
                for wh in (100, 200, 300):
                    await station.call("MeterValues", connector_id=1, meter_value=sample(at(wh // 100), wh))
                await eventually(
                    lambda: upstream_links(local_api),
                    lambda links: links["CP-1"]["state"] == "live" and links["CP-1"]["backlog"] == 0,
                )
                answers = (await local_api.get("/api/upstream/CP-1/events", params={"limit": 500})).json()
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            process.kill()
            await process.wait()
    calls = [(c["call"], c["payload"]) for c in seen if "call" in c]
    assert [action for action, _ in calls] == [
        "BootNotification",
        "StatusNotification",
        "MeterValues",
        "MeterValues",
        "MeterValues",
    ]
    assert [p["meter_value"][0]["sampled_value"][0]["value"] for a, p in calls if a == "MeterValues"] == [
        "100",
        "200",
        "300",
    ]
    # The upstream's answer to the boot came too late for the station, and is recorded all the same.
    boot_answers = [
        e["data"]
        for e in answers["events"]
        if e["type"] == "UpstreamAnswered" and e["data"]["action"] == "BootNotification"
    ]
    assert [a["response"]["interval"] for a in boot_answers] == [77]


async def _value(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    await trio.lowlevel.checkpoint()
    return found


async def test_each_station_presents_its_own_credentials_upstream(tmp_path: Path) -> None:
    port = free_port()
    right, other = "cp-1-upstream-password-0001", "cp-2-upstream-password-0002"
    upstream_config = UPSTREAM_CONFIG + "".join(
        f'\n[stations."{station}"]\nsecurity_profile = 1\npassword_hash = "{hash_password(password)}"\n'
        for station, password in (("CP-1", right), ("CP-2", other))
    )
    local_config = LOCAL_CONFIG.format(port=port).replace(
        "backoff = 0.2", "backoff = 0.2\nsecurity_profile = 1"
    ) + (
        f'\n[upstream.stations."CP-1"]\npassword = "{right}"\n'
        '\n[upstream.stations."CP-2"]\npassword = "not-the-password-it-was-given"\n'
    )
    async with (
        chargeward(tmp_path / "upstream", upstream_config, port),
        chargeward(tmp_path / "local", local_config) as local,
        httpx.AsyncClient(base_url=local.api_url, timeout=20) as local_api,
        peer_station(ocpp_url(local), "CP-1"),
        peer_station(ocpp_url(local), "CP-2") as refused,
    ):
        links = await eventually(
            lambda: upstream_links(local_api),
            lambda links: (
                links.get("CP-1", {}).get("state") == "live"
                and "401" in (links.get("CP-2", {}).get("last_error") or "")
            ),
        )
        assert links["CP-2"]["state"] == "down"
        # The site goes on: CP-2 is answered by the local policy while its link is refused.
        assert (await refused.call("Heartbeat"))["current_time"]
