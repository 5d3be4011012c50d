"""Events of a site's stream (``site/<id>``): limits set by a source, and every allocation round.

Only the site's own actor appends here, so the stream has one writer.

- :class:`SiteLimitSet` / :class:`SiteLimitCleared`: one source's limit on the site (``PUT`` / ``DELETE
  /api/sites/{id}/limits/{source}``). ``source`` is an :class:`actors.sites.Source` value, ``unit``
  ``"A"`` (per phase) or ``"W"`` (over all phases); either ``value`` or ``schedule`` (``[[RFC 3339
  start, value], ...]``), valid from ``valid_from`` until ``valid_until`` (RFC 3339, open when None).
- :class:`SiteRound`: one allocation round, with its inputs and outputs, so a replay explains each
  decision and a restarted actor resumes from the last one (``state`` is the actor's folded view at
  ``position``, the log position the round's inputs reflect).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.registry import OMITTED_WHEN_NONE, Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SiteLimitSet(Event):
    TYPE: ClassVar[str] = "SiteLimitSet"
    source: str
    unit: str
    value: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    schedule: list[Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    valid_from: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    valid_until: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SiteLimitCleared(Event):
    TYPE: ClassVar[str] = "SiteLimitCleared"
    source: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SiteRound(Event):
    """One allocation round.

    ``reason``: "start", "change" (an input changed) or "interval". ``failsafe``: the grid meter was
    stale or missing, every connector got the failsafe current. ``meter``: ``{"current": [L1, L2, L3],
    "at": RFC 3339, "stale": bool}`` or None; ``non_ev``: A per phase derived from it (None: not
    measured). ``limits``: the limits in force (``current``, ``power``, ``binding``: each ``{value,
    unit, source}`` or None). ``connectors``: per connector ``{station, connector, transaction,
    status, phases, measured, target, in_force, sent}``; ``overloads``: ``{level, phase, excess}``.
    ``state``: the site actor's view for resuming (see :mod:`actors.sites.view`), in the rounds that
    are checkpoints (the first of a run and one in ``actors.site.CHECKPOINT_EVERY``), else left out:
    each round's inputs are in its other fields, the view is for resuming only. ``plan``: the
    optimizer's plan when the round made one (see :mod:`actors.sites.planning`), else left out.
    """

    TYPE: ClassVar[str] = "SiteRound"
    reason: str
    position: int
    failsafe: bool
    meter: dict[str, Any] | None
    non_ev: list[Any] | None
    limits: dict[str, Any]
    connectors: list[dict[str, Any]]
    overloads: list[dict[str, Any]]
    state: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    plan: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
