"""Chaos: the SQLite committer child is killed twice, 3 s apart, under load from 200 stations.

Before (issue 10, defect 2 and item 11): the failed commit raised into every station of the batch,
their actors restarted and closed their connections, and enough of them escalated to stop the
server. Now a failed commit fails only the messages of that batch (CALLERROR InternalError, after
a retry), a fresh committer takes the next batch, the server closes no connection, later messages are
acknowledged, and every acknowledged message is in the log.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
import trio

from tests.chaos.fleet_load import Fleet, committer_of, start_fleet, unlogged
from tests.chaos.served import chargeward

STATIONS = 200
PERIOD = 0.5  # seconds between one station's messages: ~400 messages/s offered
log = logging.getLogger(__name__)


@pytest.mark.slow
async def test_killing_the_committer_closes_no_connection_and_loses_nothing(tmp_path: Path) -> None:
    fleet = Fleet(STATIONS)
    async with chargeward(tmp_path) as server:
        pid = server.served.process.pid
        kills: list[int] = []
        with trio.fail_after(600):
            async with trio.open_nursery() as nursery:
                await start_fleet(nursery, server.ocpp_url, "KILL", fleet, PERIOD)
                await trio.sleep(2)
                for _ in range(2):
                    victim = committer_of(pid)
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                    await trio.sleep(3)
                last_kill = trio.current_time() - 3
                await trio.sleep(5)
                fleet.stop.set()  # each station stops after its message in hand
        assert server.served.process.returncode is None, "the server kept serving"
        assert committer_of(pid) not in kills, "a fresh committer took over"
        await server.served.stop()
    missing = await unlogged(tmp_path, fleet)
    log.warning(
        "committer kill: %d acks, errors %s, %d unanswered, %d connections closed by the server",
        fleet.acks,
        dict(fleet.errors),
        fleet.unanswered,
        len(fleet.closed),
    )
    assert fleet.closed == [], f"the server closed {len(fleet.closed)} connections"
    assert not missing, f"{len(missing)} acknowledged messages are not in the log: {missing[:5]}"
    late = [s for s in fleet.acked if fleet.last_ack.get(s, 0) <= last_kill]
    assert not late, f"{len(late)} stations got no acknowledgement after the last kill"
    assert set(fleet.errors) <= {"InternalError"}, fleet.errors
