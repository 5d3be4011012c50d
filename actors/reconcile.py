"""Re-apply what the server intends a station to have, after the station booted (issue 12).

Chargers lose their charging profiles, and sometimes configuration and their local list, when they
reboot. The station actor starts :func:`reconcile` as a follow-up task once it has answered a
BootNotification (and on the station's first connection after the server started), never before the
answer: the Boot reply is not held up by it. It compares and re-applies, through the ordinary command
path (so every command and reply is logged, and accepted ones fold into the record as usual):

1. every intended charging profile (``DesiredState``) is sent again: OCPP 1.6 has no way to list a
   station's profiles, and sending one the station still holds replaces it with itself;
2. the intended configuration keys are read with GetConfiguration and each that differs (or is
   missing) is set again with ChangeConfiguration;
3. the local list's version is read with GetLocalListVersion and, when it differs, the whole intended
   list is sent again (``Full``, at the intended version).

The same steps serve OCPP 2.0.1 stations in their version's payloads (the dialect's ``Requests``):
SetChargingProfile with the profile's 2.0.1 shape, GetLocalListVersion's ``versionNumber``. A 2.0.1
station has no ChangeConfiguration, so its record holds no configuration keys and step 2 never runs.

Each step is a ``ReconcileStep`` event between ``ReconcileStarted`` and ``ReconcileFinished``. A step
that fails (no answer, a CALLERROR) is recorded and the others still run; once the station is offline
the rest is not tried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.commands import StationOffline
from actors.desired_state import DesiredState
from actors.events import Event
from actors.events.station import ReconcileFinished, ReconcileStarted, ReconcileStep
from actors.ocpp.dialect import Requests
from actors.ocpp.v16.dialect import REQUESTS as V16_REQUESTS

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Record = Callable[[list[Event]], Awaitable[None]]

APPLIED = ("Accepted", "RebootRequired")


class _Run:
    def __init__(self, call: Call, record: Record) -> None:
        self.call = call
        self.record = record
        self.applied = 0
        self.failed = 0
        self.offline = False

    async def ask(
        self, kind: str, target: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The station's reply, or None after recording the step as failed."""
        if self.offline:
            return None
        try:
            return await self.call(action, payload)
        except StationOffline as error:
            self.offline = True
            await self.step(kind, target, "failed", f"{action}: {error}")
        except Exception as error:  # a CALLERROR, a timeout, a refused command: this step only
            await self.step(kind, target, "failed", f"{action}: {type(error).__name__}: {error}")
        return None

    async def step(self, kind: str, target: str, outcome: str, detail: str | None = None) -> None:
        if outcome == "applied":
            self.applied += 1
        elif outcome in ("rejected", "failed"):
            self.failed += 1
        await self.record([ReconcileStep(kind=kind, target=target, outcome=outcome, detail=detail)])

    async def applied_or_rejected(self, kind: str, target: str, action: str, reply: dict[str, Any]) -> None:
        status = reply.get("status")
        if status in APPLIED:
            await self.step(kind, target, "applied", None if status == "Accepted" else str(status))
        else:
            await self.step(kind, target, "rejected", f"{action}: {status}")


async def reconcile(
    desired: DesiredState, trigger: str, call: Call, record: Record, requests: Requests = V16_REQUESTS
) -> None:
    """Compare and re-apply ``desired`` (taken as it is now) through ``call``, in the payloads of the
    station's version (``requests``); events through ``record``."""
    profiles = desired.set_charging_profiles()
    configuration = dict(desired.configuration)
    local_list = desired.send_local_list()
    await record([ReconcileStarted(trigger=trigger)])
    run = _Run(call, record)
    for request in profiles:
        target = str(request["csChargingProfiles"].get("chargingProfileId"))
        reply = await run.ask("profile", target, "SetChargingProfile", requests.set_profile(request))
        if reply is not None:
            await run.applied_or_rejected("profile", target, "SetChargingProfile", reply)
    if configuration:
        await _configuration(run, configuration)
    if local_list is not None:
        await _local_list(run, local_list, requests)
    outcome = "failed" if run.failed or run.offline else "done"
    await record([ReconcileFinished(outcome=outcome, applied=run.applied, failed=run.failed)])


async def _configuration(run: _Run, configuration: dict[str, str]) -> None:
    keys = sorted(configuration)
    reported = await run.ask("configuration", ",".join(keys), "GetConfiguration", {"key": keys})
    if reported is None:
        return
    values = {
        entry.get("key"): entry.get("value")
        for entry in reported.get("configurationKey") or []
        if isinstance(entry, dict)
    }
    for key in keys:
        if values.get(key) == configuration[key]:
            await run.step("configuration", key, "in_sync")
            continue
        request = {"key": key, "value": configuration[key]}
        reply = await run.ask("configuration", key, "ChangeConfiguration", request)
        if reply is not None:
            await run.applied_or_rejected("configuration", key, "ChangeConfiguration", reply)


async def _local_list(run: _Run, request: dict[str, Any], requests: Requests) -> None:
    version = request["listVersion"]
    reported = await run.ask("local_list", str(version), "GetLocalListVersion", {})
    if reported is None:
        return
    if requests.local_list_version(reported) == version:
        await run.step("local_list", str(version), "in_sync")
        return
    reply = await run.ask("local_list", str(version), "SendLocalList", requests.local_list(request))
    if reply is not None:
        await run.applied_or_rejected("local_list", str(version), "SendLocalList", reply)
