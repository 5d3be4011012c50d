"""The floor baseline: a bare WebSocket server on chargeward's own stack (trio driving the
``websockets`` sans-I/O protocol, ``adapters.websocket``) that answers every CALL with a canned
CALLRESULT and does nothing else: no validation, no actors, no persistence.

Whatever chargeward costs above this is the price of its work, not of the transport.
Run as ``python -m bench.peers.floor --port P``.
"""

from __future__ import annotations

import argparse
import json
import resource
from functools import partial

import trio

from adapters import websocket
from bench.peers.canned import canned_results

SUBPROTOCOL = "ocpp1.6"
OPTIONS = websocket.Options(ping_interval=None)


async def _session(canned: dict[str, str], upgrade: websocket.Upgrade) -> None:
    if not upgrade.path.startswith("/ocpp/") or SUBPROTOCOL not in upgrade.offered_subprotocols:
        await upgrade.reject(404, "not an OCPP endpoint\n")
        return
    ws = await upgrade.accept(SUBPROTOCOL, OPTIONS)
    if ws is None:
        return
    try:
        while True:
            message = await ws.receive()
            try:
                frame = json.loads(message)
                kind, msg_id = frame[0], json.dumps(frame[1])
            except (ValueError, IndexError, KeyError, TypeError):
                await ws.send('[4,"-1","FormationViolation","not an OCPP frame",{}]')
                continue
            if kind != 2:
                continue  # an answer to a call the floor never makes
            body = canned.get(frame[2])
            if body is None:
                await ws.send(f'[4,{msg_id},"NotImplemented","",{{}}]')
            else:
                await ws.send(f"[3,{msg_id},{body}]")
    except websocket.ConnectionClosed:
        pass


async def serve(host: str, port: int) -> None:
    await websocket.serve(partial(_session, canned_results()), host, port, OPTIONS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    trio.run(serve, args.host, args.port)


if __name__ == "__main__":
    main()
