"""Event-store backends the conformance suite runs against.

Adding a backend to every store test is one line in ``BACKENDS``: a function from a fresh temporary
directory and a source of fresh PostgreSQL schemas to a store URL. ``DURABLE`` are the backends whose
log outlives the process, for the tests that reopen it, write from another process or kill a writer.
"""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import Callable, Iterator

import pytest

from tests import pg

BACKENDS: dict[str, Callable[[pathlib.Path, pg.Schemas], str]] = {
    "memory": lambda directory, schemas: "memory://",
    "sqlite": lambda directory, schemas: f"sqlite://{directory}/events.db",  # commits in a child process
    "sqlite-thread": lambda directory, schemas: f"sqlite://{directory}/events.db?committer=thread",
    "postgres": lambda directory, schemas: schemas.url(),  # a schema of its own, dropped after the test
}
DURABLE = ("sqlite", "postgres")


@pytest.fixture
def pg_schemas() -> Iterator[pg.Schemas]:
    with pg.schemas() as made:
        yield made


def _factory(backend: str, tmp_path: pathlib.Path, schemas: pg.Schemas) -> Callable[[], str]:
    if backend == "postgres":
        pg.server_url()  # fails in CI, skips elsewhere, when PostgreSQL cannot be had
    counter = itertools.count()

    def make() -> str:
        directory = tmp_path / f"store-{next(counter)}"
        directory.mkdir()
        return BACKENDS[backend](directory, schemas)

    return make


@pytest.fixture(params=sorted(BACKENDS))
def new_store_url(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, pg_schemas: pg.Schemas
) -> Callable[[], str]:
    """A factory of URLs of fresh, empty stores of one backend (one per hypothesis example)."""
    return _factory(request.param, tmp_path, pg_schemas)


@pytest.fixture
def store_url(new_store_url: Callable[[], str]) -> str:
    """The URL of one fresh, empty store, once per backend."""
    return new_store_url()


@pytest.fixture(params=DURABLE)
def durable_store_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path, pg_schemas: pg.Schemas) -> str:
    """The URL of one fresh, empty store of each backend whose log outlives the process."""
    return _factory(request.param, tmp_path, pg_schemas)()
