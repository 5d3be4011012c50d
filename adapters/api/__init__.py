"""The operator HTTP API: stations, commands, transactions, events and /metrics over HTTP.

``open_csms`` starts it next to the OCPP server when the configuration has an ``[api]`` table
(``chargeward serve`` always does); embedders can also mount :func:`build_app` themselves.
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
