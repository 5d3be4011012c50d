"""Jittered exponential backoff for reconnecting to a Modbus line.

Hundreds of devices behind one site router tend to fail together (a power cut, a switch reboot);
without jitter they would all reconnect in lock step. Each delay is drawn uniformly from the upper
half of the current exponential step ("equal jitter"), so a retry never comes sooner than half
the step and the herd spreads out. Pure and seedable: the random source is injected.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * factor**n``, capped at ``maximum``, each jittered into ``[d/2, d]``."""

    def __init__(
        self,
        initial: float = 0.1,
        maximum: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= maximum or factor < 1:
            raise ValueError(
                f"need 0 < initial <= maximum and factor >= 1, got {initial}, {maximum}, {factor}"
            )
        self._initial = initial
        self._maximum = maximum
        self._factor = factor
        self._rng = rng if rng is not None else random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call grows the step until the cap."""
        step = min(self._maximum, self._initial * self._factor**self._attempt)
        if step < self._maximum:
            self._attempt += 1
        return self._rng.uniform(step / 2, step)

    def reset(self) -> None:
        """Start again from the initial step (after a successful connection)."""
        self._attempt = 0
