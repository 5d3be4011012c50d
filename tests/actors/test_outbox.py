"""The station outbox: bounded FIFO, and a queued SetChargingProfile superseded by a newer equivalent."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.commands import Command, OutboxFull
from actors.outbox import Outbox, Pending
from core.actor import Reply
from core.dead_letters import DeadLetters


def pending(command: Command) -> Pending:
    return Pending(command, Reply[dict[str, Any]](DeadLetters(), "station", "s"))


def profile(connector: int, level: int, purpose: str = "TxDefaultProfile", limit: float = 16.0) -> Command:
    return Command(
        "SetChargingProfile",
        {
            "connectorId": connector,
            "csChargingProfiles": {"stackLevel": level, "chargingProfilePurpose": purpose, "limit": limit},
        },
    )


def test_fifo_and_bounded() -> None:
    box = Outbox(2)
    first, second = pending(Command("Reset", {"type": "Soft"})), pending(Command("ClearCache", {}))
    assert box.push(first) is None and box.push(second) is None
    with pytest.raises(OutboxFull, match="2 commands already queued"):
        box.push(pending(Command("ClearCache", {})))
    assert box.pop() is first and box.pop() is second and box.pop() is None


def test_a_newer_profile_for_the_same_slot_supersedes_the_queued_one_in_place() -> None:
    box = Outbox(3)
    old = pending(profile(1, 0, limit=16))
    other_level = pending(profile(1, 1))
    reset = pending(Command("Reset", {"type": "Soft"}))
    for p in (old, other_level, reset):
        box.push(p)
    newer = pending(profile(1, 0, limit=10))
    assert box.push(newer) is old, "superseded, not queued behind"
    assert [box.pop() for _ in range(3)] == [newer, other_level, reset]


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(["TxProfile", "TxDefaultProfile"]))
    )
)
def test_at_most_one_queued_profile_per_connector_level_and_purpose(
    slots: list[tuple[int, int, str]],
) -> None:
    box = Outbox(100)
    for connector, level, purpose in slots:
        box.push(pending(profile(connector, level, purpose)))
    queued = box.drain()
    keys = [
        (
            p.command.payload["connectorId"],
            p.command.payload["csChargingProfiles"]["stackLevel"],
            p.command.payload["csChargingProfiles"]["chargingProfilePurpose"],
        )
        for p in queued
    ]
    assert len(keys) == len(set(keys)) == len(set(slots))


def data_transfer(size: int) -> Command:
    return Command("DataTransfer", {"vendorId": "v", "data": "x" * size})


def test_bounded_in_bytes_too() -> None:
    box = Outbox(100, max_bytes=2500)
    first, second = pending(data_transfer(1000)), pending(data_transfer(1000))
    assert box.push(first) is None and box.push(second) is None
    assert box.bytes == first.size + second.size
    with pytest.raises(OutboxFull, match="would exceed this station's outbox budget of 2500 bytes"):
        box.push(pending(data_transfer(1000)))
    assert box.pop() is first and box.bytes == second.size
    box.push(pending(data_transfer(1000)))  # room again
    assert len(box.drain()) == 2 and box.bytes == 0


def test_a_superseding_profile_is_counted_for_its_own_bytes() -> None:
    box = Outbox(10, max_bytes=10_000)
    old, newer = pending(profile(1, 0, limit=16)), pending(profile(1, 0, limit=10.5))
    box.push(old)
    assert box.push(newer) is old and box.bytes == newer.size
