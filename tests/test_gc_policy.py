"""``settle_heap``: what ``chargeward serve`` does to the collector once it is up."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from adapters.gc_policy import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_heap_freezes_the_survivors_and_raises_only_the_young_threshold() -> None:
    before = gc.get_threshold()
    survivor = {"kept": [1, 2, 3]}  # a tracked container alive across the call
    frozen = settle_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert gc.is_tracked(survivor) and not any(survivor is o for o in gc.get_objects())
    assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settling_are_still_collected() -> None:
    settle_heap()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    assert gc.collect() >= 2


MMAP_PROBE = """
import sys
from adapters.gc_policy import mmap_big_blocks

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

if sys.argv[1] == "fixed":
    assert mmap_big_blocks()
first = bytearray(900_000)
del first  # the first big block freed: left alone, glibc raises its mmap threshold past 900 KB
before = rss_mb()
big, small = [], []
for i in range(200):  # 180 MB of frame-sized blocks with small live objects between them
    big.append(bytearray(900_000))
    small.append([i] * 10)
del big
print(rss_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_big_blocks_go_back_to_the_system_after_a_flood() -> None:
    """The flood of 900 KB frames measured in the slow-reader probe, in miniature."""

    def kept_mb(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", MMAP_PROBE, mode], capture_output=True, text=True, check=True
        )
        return int(run.stdout)

    assert kept_mb("default") > 100, "glibc's own policy keeps the freed blocks (what this fixes)"
    assert kept_mb("fixed") < 20
