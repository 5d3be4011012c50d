"""The bench charges a server for its child processes too (chargeward's SQLite committer is one)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.servers import proc_cpu_seconds, process_tree, tree_total

BURN_THEN_SLEEP = (
    "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
)


def test_process_tree_and_totals_include_live_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN_THEN_SLEEP])
    try:
        while (child_cpu := proc_cpu_seconds(child.pid)) < 0.3:
            os.sched_yield()
        assert child.pid in process_tree(os.getpid())
        own_before = proc_cpu_seconds(os.getpid())
        assert tree_total(os.getpid(), proc_cpu_seconds) >= own_before + child_cpu
    finally:
        child.kill()
        child.wait()
