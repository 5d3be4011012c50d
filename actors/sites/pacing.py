"""Deadband and minimum interval per connector, so small or frequent rises do not become profile storms.

Given what each connector was last sent (and when) and the round's new targets, :func:`pace` says
what to send now. The rule is one-sided on purpose:

- a **decrease** is always sent at once, however small and however recent the last send: the round's
  targets are what keeps every level within its limits, and a connector held above its target could
  break one;
- an **increase** (a paused connector resuming included) waits while it is smaller than ``deadband``
  or less than ``min_interval`` seconds have passed since that connector's last send; the connector
  keeps its lower current meanwhile, which can only leave room unused.

So the current in force on each connector is never above its target, and the targets' guarantees
hold for what is in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Sent:
    current: float  # A per phase
    at: float  # seconds, on the same clock as ``now``


@dataclass(frozen=True, slots=True)
class Paced(Generic[K]):
    send: Mapping[K, float]  # connectors to send a new current to now
    held: Mapping[K, float]  # increases held back: the target each would have had
    in_force: Mapping[K, float]  # what every connector draws after the sends


def pace(
    targets: Mapping[K, float],
    previous: Mapping[K, Sent],
    now: float,
    *,
    deadband: float = 1.0,
    min_interval: float = 10.0,
) -> Paced[K]:
    """What to send for ``targets`` given ``previous`` sends; a connector never sent gets its target."""
    send: dict[K, float] = {}
    held: dict[K, float] = {}
    in_force: dict[K, float] = {}
    for key, target in targets.items():
        last = previous.get(key)
        if last is None or target < last.current:
            send[key] = in_force[key] = target
        elif target == last.current:
            in_force[key] = target
        elif target - last.current < deadband or now - last.at < min_interval:
            held[key] = target
            in_force[key] = last.current
        else:
            send[key] = in_force[key] = target
    return Paced(send, held, in_force)
