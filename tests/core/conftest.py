"""Event-store backends the conformance suite runs against.

Adding a backend to every store test is one line in ``BACKENDS``: a function from a fresh temporary
directory to a store URL (PostgreSQL would map to a URL of a throwaway database).
"""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import Callable

import pytest

BACKENDS: dict[str, Callable[[pathlib.Path], str]] = {
    "memory": lambda directory: "memory://",
    "sqlite": lambda directory: f"sqlite://{directory}/events.db",  # commits in a child process
    "sqlite-thread": lambda directory: f"sqlite://{directory}/events.db?committer=thread",
}


@pytest.fixture(params=sorted(BACKENDS))
def new_store_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Callable[[], str]:
    """A factory of URLs of fresh, empty stores of one backend (one per hypothesis example)."""
    counter = itertools.count()

    def make() -> str:
        directory = tmp_path / f"store-{next(counter)}"
        directory.mkdir()
        return BACKENDS[request.param](directory)

    return make


@pytest.fixture
def store_url(new_store_url: Callable[[], str]) -> str:
    """The URL of one fresh, empty store, once per backend."""
    return new_store_url()
