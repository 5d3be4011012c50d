"""A dialect: everything one OCPP version means to chargeward, as one object.

The session engine, the station actor, the re-run, the API and metrics take a :class:`Dialect`
instead of comparing version strings. It bundles

- the version's :class:`~actors.ocpp.actions.ActionTable` (actions and who may start them, the
  subprotocol name, CALLERROR spellings),
- its compiled schemas, as :class:`~actors.ocpp.validation.Validator` objects per policy (cached,
  shared by every station of that version),
- its decisions: the built-in answer to each station-initiated action, the version-neutral domain
  events a station's call and a reply to our command decide (``actors.events``),
- the few version facts the station actor needs around them (which action's built-in answer takes a
  transaction id from the CSMS's allocator; where a BootNotification names the vendor),
- its :class:`Requests`: the version's payloads for what the server asks in neutral terms.

The concrete dialects are ``actors.ocpp.v16.dialect.DIALECT`` and ``actors.ocpp.v201.dialect.DIALECT``;
``actors.ocpp.versions`` finds one by subprotocol or version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from actors.ocpp.actions import ActionTable
from actors.ocpp.validation import Policy, Validator

if TYPE_CHECKING:
    from actors.events import Event
    from actors.policy import FleetPolicy
    from actors.station_state import StationState


class BuiltinResponse(Protocol):
    """chargeward's own answer to a station-initiated action (used when no handler answered)."""

    def __call__(
        self,
        action: str,
        request: Mapping[str, Any],
        *,
        station_id: str,
        state: StationState,
        policy: FleetPolicy,
        now: datetime,
        transaction_id: int | None = None,
    ) -> dict[str, Any]: ...


DomainEvents = Callable[[str, Mapping[str, Any], Mapping[str, Any], "StationState"], "list[Event]"]
"""(action, request, response, state) -> the domain events answering the station's call decides."""

CommandEvents = Callable[[str, Mapping[str, Any], Mapping[str, Any]], "list[Event]"]
"""(action, request, response) -> the domain events an answered command of ours decides."""


@dataclass(frozen=True, slots=True)
class Requests:
    """The version's own payloads for what the server asks in neutral terms (the record of profiles
    and of the local list is kept in 1.6's shapes): the composite-schedule check and reconciliation
    take them from here."""

    # (connector, duration s, unit) -> GetCompositeSchedule request; its reply -> a 1.6 conf's shape
    composite: Callable[[int, int, str], dict[str, Any]]
    composite_conf: Callable[[Mapping[str, Any]], dict[str, Any]]
    # a 1.6 SetChargingProfile request (a recorded profile) -> the version's request installing it
    set_profile: Callable[[Mapping[str, Any]], dict[str, Any]]
    # a 1.6 SendLocalList request (DesiredState.send_local_list) -> the version's request
    local_list: Callable[[Mapping[str, Any]], dict[str, Any]]
    # a GetLocalListVersion reply -> the version it reports
    local_list_version: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, eq=False)
class Dialect:
    """One OCPP version's actions, schemas, error spellings and decisions (see the module docstring)."""

    actions: ActionTable
    builtin_response: BuiltinResponse
    domain_events: DomainEvents
    command_events: CommandEvents
    # Actions whose built-in answer carries a transaction id the CSMS allocates (1.6 StartTransaction).
    allocates_transaction_id: frozenset[str]
    # The vendor a BootNotification request names (repairs are counted by vendor before a boot is folded).
    boot_vendor: Callable[[Mapping[str, Any]], str | None]
    requests: Requests
    _validators: dict[tuple[Policy, tuple[tuple[str, str], ...]], Validator] = field(
        default_factory=dict, repr=False
    )

    @property
    def version(self) -> str:
        return self.actions.version

    @property
    def subprotocol(self) -> str:
        return self.actions.subprotocol

    @property
    def strict(self) -> Validator:
        """The strict validator: our own responses and commands are checked with it."""
        return self.validator(Policy.STRICT)

    def validator(self, policy: Policy, aliases: Mapping[str, str] | None = None) -> Validator:
        """The validator of this version under ``policy`` with ``aliases`` (one per distinct pair)."""
        key = (Policy(policy), tuple(sorted((aliases or {}).items())))
        found = self._validators.get(key)
        if found is None:
            found = self._validators[key] = Validator(self.version, policy, aliases)
        return found
