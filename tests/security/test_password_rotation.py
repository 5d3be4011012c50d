"""Password rotation end to end: ChangeConfiguration AuthorizationKey to a real station (the ``ocpp``
package's ChargePoint), the new password valid only once the station accepted it, and only hashes in
the log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from actors.commands import Command, InvalidCommand
from adapters.csms import open_csms
from adapters.station_gate import SecurityOptions, StationCredentials
from adapters.station_passwords import hash_password
from tests.api.conftest import TOKEN, api_config
from tests.integration.peer import peer_station
from tests.security.conftest import upgrade

pytestmark = pytest.mark.slow

OLD = "the-old-password-0123456789"


async def everything_stored(csms: object) -> bytes:
    store = csms.store  # type: ignore[attr-defined]
    records = await store.read_all(0, limit=1_000_000)
    return b"".join(repr(record).encode() for record in records)


@pytest.mark.parametrize("answer", ["Accepted", "Rejected"])
async def test_a_rotated_password_is_valid_only_once_the_station_accepted_it(
    tmp_path: Path, answer: str
) -> None:
    base = api_config(tmp_path)
    security = SecurityOptions(profile=1, stations={"CP-R": StationCredentials(1, hash_password(OLD))})
    config = replace(base, server=replace(base.server, port=0, security=security))
    async with open_csms(config) as csms:
        assert csms.ocpp_port is not None
        url = f"ws://127.0.0.1:{csms.ocpp_port}/ocpp"
        env = {"PEER_PASSWORD": OLD, "PEER_AUTHORIZATION_KEY": answer}
        async with (
            peer_station(url, "CP-R", env=env) as station,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{csms.api_port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            ) as client,
        ):
            response = await client.post("/api/stations/CP-R/password")
            assert response.status_code == 200, response.text
            assert response.json() == {"station_id": "CP-R", "status": answer}
            sent = await station.next_received()
            assert sent["received"] == "ChangeConfiguration" and sent["payload"]["key"] == "AuthorizationKey"
            new = sent["payload"]["value"]
            assert 16 <= len(new) <= 40 and new != OLD
            # The password is a secret: the generic command route cannot send it (it would be logged).
            generic = await client.post(
                "/api/stations/CP-R/commands/ChangeConfiguration",
                json={"key": "AuthorizationKey", "value": "x" * 20},
            )
            assert generic.status_code == 422, generic.text
            with pytest.raises(InvalidCommand):
                await csms.station("CP-R").call(
                    Command("ChangeConfiguration", {"key": "AuthorizationKey", "value": "y" * 20})
                )
            valid, invalid = (new, OLD) if answer == "Accepted" else (OLD, new)
            assert (await upgrade(csms.ocpp_port, "CP-R", password=invalid)).status == 401
            assert (await upgrade(csms.ocpp_port, "CP-R", password=valid)).status == 101
        stored = await everything_stored(csms)
        assert new.encode() not in stored and OLD.encode() not in stored, "only hashes are stored"
        assert b"PasswordOffered" in stored
        assert (b"PasswordAccepted" if answer == "Accepted" else b"PasswordRefused") in stored
