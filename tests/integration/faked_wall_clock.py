"""A simulated wall clock for a real ``chargeward serve`` process: libfaketime, set by the test.

The process runs with ``LD_PRELOAD=libfaketime`` reading its offset from a file on every call
(``FAKETIME_TIMESTAMP_FILE`` with ``FAKETIME_NO_CACHE``), so the test moves the server's wall clock
(``datetime.now``: event times, the backlog's age, the metrics) by writing that file, and every
reading after the write sees the new time. Monotonic time is left real
(``FAKETIME_DONT_FAKE_MONOTONIC``): trio's timers, timeouts and the WebSocket keep-alives run as they
would, so moving the wall clock an hour on does not fire every deadline at once. File timestamps are
left real too (``NO_FAKE_STAT``), so Python's bytecode cache and SQLite see the files as they are.

One known gap of libfaketime 0.9.10 (Debian bookworm) with monotonic time not faked: an absolute
``clock_nanosleep`` on the monotonic clock fails with EINVAL, so Python's ``time.sleep`` raises
``OSError`` in the faked process. chargeward's own code sleeps only through trio, so it does not meet
it; a library's blocking retry (eventsourcing's ``retry``, on an error path) would raise instead of
waiting, so a test that met one would fail, not silently pass.

libfaketime keeps a little shared memory per process (``/dev/shm/faketime_shm_<pid>`` and its
semaphore) and removes it only at a normal exit; the tests kill their servers, so :meth:`close`
removes what the processes started under this clock left behind.

libfaketime is the Debian package ``libfaketime`` (``.ci/install-faketime.sh``); without it the
tests that need this clock are skipped, or fail under CI.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

SHARED = Path("/dev/shm")


def libfaketime() -> str:
    """The path of the libfaketime library (the multithreaded build: the server has threads)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        reason = "libfaketime not installed (apt-get install libfaketime; .ci/install-faketime.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found[0]


class FakedWallClock:
    """The wall clock of the processes started with :attr:`env`: real time plus an offset the test sets."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "faketime.rc"
        self.offset = 0.0
        self._shared_before = _shared()
        self._write()
        self.env = {
            "LD_PRELOAD": libfaketime(),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "NO_FAKE_STAT": "1",
        }

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on (the processes see it at their next reading)."""
        self.offset += seconds
        self._write()

    def close(self) -> None:
        """Remove the shared memory of the processes that ran under this clock and are gone."""
        for path in _shared() - self._shared_before:
            if not _alive(int(path.name.rpartition("_")[2])):
                path.unlink(missing_ok=True)

    def _write(self) -> None:
        # Replaced whole, so a reading never meets a half-written file.
        staged = self.path.with_suffix(".new")
        staged.write_text(f"+{self.offset:.0f}\n")
        os.replace(staged, self.path)


def _shared() -> set[Path]:
    """libfaketime's shared memory and semaphores in /dev/shm, named by the process id."""
    return set(SHARED.glob("faketime_shm_*")) | set(SHARED.glob("sem.faketime_sem_*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True
