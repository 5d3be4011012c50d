"""Site load management, sans I/O: the site model, one allocation round, pacing, and limits by source.

``model`` holds a site as configured (its circuits, stations and per-connector settings);
``allocation`` computes the current each connector may draw so that every level stays within its
limits; ``pacing`` holds back small or frequent rises (never a decrease); ``limits`` says which
source's limit is in force; ``view`` folds the log into what a round needs, ``decide`` makes a round's
decision, ``planning`` fits the ``optimizer``'s plan for charging needs (``needs``) into it, and
``control`` is the port decisions go out through. Nothing here does I/O, knows trio or
the store: the site actor (``actors.site``), the tests and the bench run the same code.
"""

from actors.sites.allocation import Allocation, Demand, Level, Overload, allocate, levels_of
from actors.sites.limits import Bound, LimitError, LimitsInForce, Source, SourceLimit, limits_in_force
from actors.sites.model import (
    Circuit,
    ConnectorId,
    ConnectorSettings,
    Member,
    Optimizer,
    Pacing,
    Planning,
    Policy,
    Site,
)
from actors.sites.pacing import Paced, Sent, pace

__all__ = [
    "Allocation",
    "Bound",
    "Circuit",
    "ConnectorId",
    "ConnectorSettings",
    "Demand",
    "Level",
    "LimitError",
    "LimitsInForce",
    "Member",
    "Optimizer",
    "Overload",
    "Paced",
    "Pacing",
    "Planning",
    "Policy",
    "Sent",
    "Site",
    "Source",
    "SourceLimit",
    "allocate",
    "levels_of",
    "limits_in_force",
    "pace",
]
