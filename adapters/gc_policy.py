"""Garbage-collector settings for a long-running server process (``chargeward serve``).

CPython's cyclic collector runs a young collection every 700 net container allocations. One OCPP
message allocates hundreds of containers (the parsed JSON, events, records), so the server ran a
young collection every few messages and a full one every few thousand: a few percent of the CPU
per message and, under steady load, full collections of tens of milliseconds that stalled every
station at once and set the p99.9 latency (figures in bench/results/README.md). Nearly everything a
full collection traversed was allocated at start-up (modules, compiled schemas, the API app) and
lives as long as the process.

So, once the server is up: collect, freeze what survived (the collector no longer traverses it),
and raise the young threshold so collections run rarely. Reference counting still frees nearly
everything at once; the cyclic collector only reclaims cycles, which are few here.

Big blocks go back to the system (:func:`mmap_big_blocks`). glibc serves a block of 128 KB or more
with its own mmap, but after the first such block is freed it raises that threshold (up to 32 MB),
so later big frames (a 900 KB DataTransfer, its JSON text, its WebSocket frame) come from the heap,
where freed space between live objects is kept, not returned: after a flood of big frames to
stations that stopped reading, RSS stayed near its peak. Fixing the threshold turns off glibc's
adjustment, which is the point; with it, RSS falls back to about where it started (the figures are
in bench/results/README.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

__all__ = ["MMAP_THRESHOLD", "YOUNG_THRESHOLD", "mmap_big_blocks", "settle_heap"]

#: Net container allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 50_000

#: Blocks of at least this many bytes are mmapped, and unmapped when freed (glibc's initial value).
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h


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


def mmap_big_blocks() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD`; False where the C library is not glibc.

    Like :func:`settle_heap`, a whole-process policy for ``chargeward serve`` to call at start.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
