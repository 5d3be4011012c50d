"""The PostgreSQL the tests use: found running, or started; a fresh schema per store, dropped after.

The server is the machine's PostgreSQL on 127.0.0.1:5432 (trust auth, database ``test``), or the one
``CHARGEWARD_TEST_POSTGRES`` names (a ``postgresql://`` URL of a superuser, without options). If it
does not answer, ``server_url`` starts it (``service postgresql start``, then ``pg_ctlcluster``) and
waits. If it still cannot be had, a test that needs it fails when ``CI`` is set (CI must test this
backend) and is skipped with the reason otherwise.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

DEFAULT = "postgresql://root@127.0.0.1:5432/test"
_state: dict[str, str] = {}


def _answers(url: str) -> str | None:
    """None if ``url`` takes a connection, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as e:
        return str(e).strip().splitlines()[0]


def _start() -> str:
    """Try to start the machine's PostgreSQL; what was tried and said."""
    said = []
    commands = []
    if shutil.which("service"):
        commands.append(["service", "postgresql", "start"])
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        commands += [
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
            for version in sorted(os.listdir("/etc/postgresql"))
        ]
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            said.append(f"{' '.join(command)}: {e}")
            continue
        said.append(f"{' '.join(command)}: exit {done.returncode} {done.stderr.strip()[:200]}")
        if done.returncode == 0:
            break
    return "; ".join(said) or "no PostgreSQL installed (apt-get install -y postgresql)"


def server_url() -> str:
    """The superuser URL of a running PostgreSQL, started if need be; fails (CI) or skips otherwise."""
    if "url" in _state:
        return _state["url"]
    if "missing" in _state:
        _unavailable(_state["missing"])
    url = os.environ.get("CHARGEWARD_TEST_POSTGRES", DEFAULT)
    why = _answers(url)
    if why is not None and url == DEFAULT:
        tried = _start()
        deadline = time.monotonic() + 30
        while (why := _answers(url)) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        if why is not None:
            why = f"{why} (after: {tried})"
    if why is not None:
        _state["missing"] = f"PostgreSQL at {url} cannot be had: {why}"
        _unavailable(_state["missing"])
    _state["url"] = url
    return url


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def execute(sql: str, url: str | None = None) -> None:
    """Run statements as the superuser (autocommit)."""
    with psycopg.connect(url or server_url(), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


class Schemas:
    """Hands out store URLs, each on a schema of its own, and drops them all at ``drop``."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def url(self, options: str = "") -> str:
        name = f"cw_test_{uuid.uuid4().hex[:16]}"
        self.names.append(name)
        return f"{server_url()}?schema={name}{'&' + options if options else ''}"

    def drop(self) -> None:
        if self.names:
            execute("; ".join(f"DROP SCHEMA IF EXISTS {name} CASCADE" for name in self.names))
            self.names.clear()


@contextmanager
def schemas() -> Iterator[Schemas]:
    made = Schemas()
    try:
        yield made
    finally:
        made.drop()


_for_the_session = Schemas()
atexit.register(lambda: _for_the_session.drop() if "url" in _state else None)


def session_url() -> str:
    """A store URL on a fresh schema, dropped when the test process exits (for hypothesis examples
    and other places without a fixture)."""
    return _for_the_session.url()
