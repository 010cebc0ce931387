"""The benches' view of processes: a process tree from /proc, its memory, and kill -9 of it.

Linux only (/proc), like the stack the benches start.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def status(pid: int) -> dict[str, int]:
    """Numeric fields of /proc/<pid>/status (kB values stay in kB)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            head = value.split()
            if head and head[0].isdigit():
                out[key] = int(head[0])
    except OSError:
        pass
    return out


def pss_kb(pid: int) -> int:
    """Proportional set size: pages shared copy-on-write with a parent count once overall."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(root: int) -> list[int]:
    """root and all its descendants, from /proc (children files, else a PPid scan)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        if not Path(f"/proc/{pid}").exists():
            continue
        pids.append(pid)
        found: list[int] = []
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            found = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                     and status(int(p.name)).get("PPid") == pid]
        todo += found
    return pids


def kill_tree(root: int) -> list[int]:
    """SIGKILL a process and every descendant as one, as a host or container dying does.

    All are stopped first, so none sees another die and reacts (a worker whose work-horse
    died first would record the job's failure itself, which is not the crash to test).
    Work-horses run in process groups of their own, so killpg alone would miss them.
    """
    pids = tree_pids(root)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    return pids


def is_ours(pid: int, marker: bytes = b"wiring") -> bool:
    """Still alive and still one of the app's processes (not a reused pid)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
