"""Requests out of bounds are 422 before anything is sent, never 500 and never a station's problem.

Found by black-box probes: a body nested thousands deep answered 500 (RecursionError), one nested 40
deep passed; ``events?after=10^30`` answered 500 (OverflowError in the store); negative connector ids
(ChangeAvailability -5, RemoteStartTransaction -1, UnlockConnector -1) were sent on to the station.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.events.station import FrameSent
from tests.api.conftest import Api
from tests.integration.conftest import url_of
from tests.integration.peer import peer_station


def nested(depth: int) -> bytes:
    """A ChangeAvailability body with an extra field nested ``depth`` objects deep in all."""
    inner: Any = 1
    for _ in range(depth - 1):
        inner = {"x": inner}
    return json.dumps({"connectorId": 0, "type": "Operative", "deep": inner}).encode()


@pytest.mark.parametrize("depth", [33, 40, 100_000])
async def test_a_deeply_nested_body_is_422(api: Api, depth: int) -> None:
    answer = await api.client.post(
        "/api/stations/ANY/commands/ChangeAvailability",
        content=nested(depth) if depth < 1000 else b'{"a":' + b"[" * depth + b"]" * depth + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"


async def test_a_sequence_beyond_the_store_is_422(api: Api) -> None:
    async with peer_station(url_of(api.csms), "BOUNDS-1") as peer:
        await peer.call("Heartbeat")
    for after in (10**30, 2**63):
        answer = await api.client.get(f"/api/stations/BOUNDS-1/events?after={after}")
        assert answer.status_code == 422, answer.text
    last = await api.client.get(f"/api/stations/BOUNDS-1/events?after={2**63 - 1}")
    assert last.status_code == 200 and last.json()["events"] == []


NEGATIVE = [
    ("ChangeAvailability", {"connectorId": -5, "type": "Inoperative"}),
    ("RemoteStartTransaction", {"connectorId": -1, "idTag": "TAG-OK"}),
    ("UnlockConnector", {"connectorId": -1}),
    ("UnlockConnector", {"connectorId": 0}),  # 0 is the whole station: nothing to unlock
    ("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 0}),
    (
        "ReserveNow",
        {"connectorId": -1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T", "reservationId": 2},
    ),
]


async def test_connector_ids_below_the_spec_minimum_are_422_and_never_sent(api: Api) -> None:
    async with peer_station(url_of(api.csms), "BOUNDS-2") as peer:
        await peer.call("Heartbeat")
        for action, payload in NEGATIVE:
            answer = await api.client.post(f"/api/stations/BOUNDS-2/commands/{action}", json=payload)
            assert answer.status_code == 422, (action, payload, answer.text)
            assert answer.json()["details"] == {"path": "$.connectorId"}
        whole = await api.client.post(
            "/api/stations/BOUNDS-2/commands/ChangeAvailability",
            json={"connectorId": 0, "type": "Inoperative"},
        )
        assert whole.status_code == 200, "connector 0 is the whole station for ChangeAvailability"
    sent = [
        r.data
        for r in await api.csms.store.read_stream("station/BOUNDS-2")
        if r.type == FrameSent.TYPE and r.data.get("action")
    ]
    assert [s["action"] for s in sent] == ["ChangeAvailability"], "only the valid command was sent"


async def test_openapi_documents_the_minimums(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    body = document["paths"]["/api/stations/{station_id}/commands/UnlockConnector"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]["anyOf"][0]  # 1.6 (2.0.1 is second)
    assert schema["properties"]["connectorId"]["minimum"] == 1
