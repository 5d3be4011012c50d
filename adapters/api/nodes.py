"""GET /api/nodes: the nodes sharing this store, their heartbeats and the station leases they hold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from adapters.api.models import NodeList

if TYPE_CHECKING:
    from adapters.csms import Csms

router = APIRouter(prefix="/api", tags=["nodes"])


@router.get("/nodes", response_model=NodeList)
async def list_nodes(request: Request) -> dict[str, Any]:
    """Every node that ran against this store (``serve --node``): alive or not, last heartbeat, leases.

    A server without ``--node`` is the only one on its store: ``cluster`` is false and the list empty.
    """
    csms: Csms = request.app.state.csms
    if csms.cluster is None:
        return {"cluster": False, "node": None, "nodes": []}
    rows = await csms.cluster.nodes()
    return {
        "cluster": True,
        "node": csms.cluster.node,
        "nodes": [
            {
                "node": row.node,
                "alive": row.alive,
                "started": row.started.isoformat(),
                "heartbeat": row.heartbeat.isoformat(),
                "stopped": row.stopped.isoformat() if row.stopped is not None else None,
                "leases": [
                    {"station": lease.station, "epoch": lease.epoch, "expires": lease.expires.isoformat()}
                    for lease in row.leases
                ],
            }
            for row in rows
        ],
    }
