"""Garbage-collector settings for a long-running server process (``chargeward serve``).

CPython's cyclic collector runs a young collection every 700 net container allocations. One OCPP
message allocates hundreds of containers (the parsed JSON, events, records), so the server ran a
young collection every few messages and a full one every few thousand: ~13 us of CPU per message
(~5% of the pipeline) and, under steady load, full collections of ~50 ms that stalled every station
at once and set the p99.9 latency. Nearly everything a full collection traversed was allocated at
start-up (modules, compiled schemas, the API app) and lives as long as the process.

So, once the server is up: collect, freeze what survived (the collector no longer traverses it),
and raise the young threshold so collections run rarely. Reference counting still frees nearly
everything at once; the cyclic collector only reclaims cycles, which are few here.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

#: Net container allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 50_000


def settle_heap() -> int:
    """Collect, freeze the survivors and raise the young threshold; return how many were frozen.

    Call it once start-up is done, from the process's entry point: it is a whole-process policy, so
    an application embedding chargeward decides for itself.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
