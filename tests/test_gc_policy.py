"""``settle_heap``: what ``chargeward serve`` does to the collector once it is up."""

from __future__ import annotations

import gc
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
