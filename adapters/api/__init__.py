"""The operator HTTP API: stations, commands, transactions, events and /metrics over HTTP.

``open_csms`` starts it next to the OCPP server when the configuration has an ``[api]`` table
(``chargeward serve`` always does); embedders can also mount :func:`build_app` themselves.
FastAPI on hypercorn's trio worker, in the CSMS's own trio loop; /openapi.json and /docs are
open, everything else needs ``Authorization: Bearer <token>`` when ``[api] tokens`` is set.

==========================================================  ==================================
GET  /api/stations?after=&limit=                            station pages (at most 200)
GET  /api/stations/{id}                                     one station with its connectors
GET  /api/stations/{id}/events?after=&limit=                its stream, raw and domain events
POST /api/stations/{id}/commands/{Action}                   one route per CSMS-initiated action
POST /api/stations/{id}/connectors/{n}/charging-needs       a charging need (also GET, DELETE)
PUT  /api/sites/{id}/prices                                 a site's price curve (also GET)
GET  /api/transactions?station=&active=&since=&after=&limit transaction pages
GET  /api/transactions/{id}?after=&limit=                   one transaction and its meter samples
GET  /metrics                                               Prometheus text (adapters.metrics)
==========================================================  ==================================

Errors share one body, ``{"error", "message", ...}``. Commands: 404 unknown station or action,
409 station offline or command superseded, 413 body over 1 MiB, 415 not JSON, 422 payload invalid
for the action's schema (the validator's message), 429 outbox full, 502 CALLERROR (``code``,
``description``, ``details``), 503 the event store could not record the command or its reply
(``Retry-After``), 504 no answer within the station's call timeout.
"""

from adapters.api.app import build_app
from adapters.api.options import DEFAULT_PORT, ApiOptions, InsecureApiOptions, is_loopback
from adapters.api.server import serve_api
from adapters.api.tokens import TokenCheck, hash_token, new_token

__all__ = [
    "DEFAULT_PORT",
    "ApiOptions",
    "InsecureApiOptions",
    "TokenCheck",
    "build_app",
    "hash_token",
    "is_loopback",
    "new_token",
    "serve_api",
]
