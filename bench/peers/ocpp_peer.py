"""The CSMS a Python user would write today: the `ocpp` package's ChargePoint on asyncio with `websockets`.

One ChargePoint per connection, `@on` handlers for the actions in the bench's message mix, the package's
default schema validation, no persistence. This is a peer baseline, run as its own process
(``python -m bench.peers.ocpp_peer --port P``); asyncio is fine here because it is not chargeward's server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import resource
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection

SUBPROTOCOL = "ocpp1.6"
_transaction_ids = itertools.count(1)
_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def handles(action: Action) -> Callable[[_Handler], _Handler]:
    """``ocpp.routing.on`` with a type (the package ships none)."""
    decorator: Callable[[_Handler], _Handler] = on(action)
    return decorator


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PeerCentralSystem(ChargePoint):  # type: ignore[misc]  # the ocpp package is untyped
    """Answers each station-initiated 1.6 action the way a minimal accepting CSMS would."""

    @handles(Action.boot_notification)
    def on_boot_notification(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=_now(), interval=300, status=RegistrationStatus.accepted
        )

    @handles(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @handles(Action.status_notification)
    def on_status_notification(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @handles(Action.authorize)
    def on_authorize(self, **_: Any) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @handles(Action.start_transaction)
    def on_start_transaction(self, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(_transaction_ids), id_tag_info={"status": AuthorizationStatus.accepted}
        )

    @handles(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @handles(Action.stop_transaction)
    def on_stop_transaction(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


async def _on_connect(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request is not None else ""
    if connection.subprotocol != SUBPROTOCOL or not path.startswith("/ocpp/"):
        await connection.close(code=1002, reason="expected /ocpp/<id> with subprotocol ocpp1.6")
        return
    station = PeerCentralSystem(path.rsplit("/", 1)[-1], connection)
    try:
        await station.start()
    except websockets.ConnectionClosed:
        pass


async def serve(host: str, port: int) -> None:
    async with websockets.serve(_on_connect, host, port, subprotocols=[websockets.Subprotocol(SUBPROTOCOL)]):
        await asyncio.Future()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
