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
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

DEFAULT = "postgresql://root@127.0.0.1:5432/test"
_state: dict[str, str] = {}


def _answers(url: str) -> str | None:
    """None if ``url`` takes a connection, else why not."""
    try:
        import psycopg  # here, so a venv not yet reinstalled with it still collects the other backends
    except ImportError as e:
        return f"{e} (run make .venv/.installed)"
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


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def execute(sql: str, url: str | None = None) -> None:
    """Run statements as the superuser (autocommit)."""
    import psycopg

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


class PrivateServer:
    """A PostgreSQL server of the test's own, in a temporary directory, that the test may restart.

    Made with the machine's binaries (``/usr/lib/postgresql/<version>/bin``), run as the ``postgres``
    OS user when the test runs as root (``initdb`` refuses root), listening only on 127.0.0.1 on a
    free port, with its socket in the temporary directory, trust authentication and ``fsync`` on (so
    what it committed survives a crash restart). ``url`` is its superuser's URL on database
    ``postgres``."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *command: str, timeout: float = 120) -> None:
        argv = [str(self.bin_dir / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()} {tail}")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", *args, "-w", "-t", "120", "-D", str(self.data), "-l", str(self.log))

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nfsync = on\nsynchronous_commit = on\n"
                "shared_buffers = 16MB\nmax_connections = 60\n"
            )

    def start(self) -> None:
        self._ctl("start")

    def restart(self, mode: str) -> None:
        """``pg_ctl restart -m MODE``: ``fast`` (a clean shutdown) or ``immediate`` (a crash: every
        process killed, WAL replayed at the start)."""
        self._ctl("restart", "-m", mode)

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    base = Path("/usr/lib/postgresql")
    versions = [p for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    for version in sorted(versions, key=lambda p: int(p.name), reverse=True):
        if (version / "bin" / "initdb").exists() and (version / "bin" / "pg_ctl").exists():
            return version / "bin"
    return None


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A started ``PrivateServer``, stopped (``-m immediate``) and removed at the end; fails (CI) or
    skips when the binaries or the ``postgres`` OS user are missing."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("no initdb and pg_ctl in /usr/lib/postgresql/<version>/bin (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("no postgres OS user to run initdb as (initdb refuses root)")
    root = Path(tempfile.mkdtemp(prefix="cw-pg-"))
    if os.geteuid() == 0:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PrivateServer(bin_dir, root, _free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
