"""Run one function in a forked child with a CPU-time, memory and wall-clock limit.

The Jinja sandbox stops a template from reaching Python objects, not from burning CPU or
memory (`{{ "x" * 100000000 }}` builds 100 MB, a 10^8 loop runs for seconds; reference
§3.2). A render therefore runs in a child forked from the worker, where setrlimit bounds it
and the parent kills it at the wall-clock deadline; the worker's own memory and time are
never at stake. A plain os.fork: the child shares the already imported libraries
copy-on-write (no re-import, a few milliseconds per call), and it works inside RQ's
work-horse, which is itself forked, and inside a daemonic process, where multiprocessing
refuses to start children.

The child sends back one pickled tuple through a pipe and leaves with os._exit, so none of
the parent's atexit handlers, buffers or connections are run or flushed twice.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5  # a shipped document takes ~30 ms; a 500-row table ~80 ms
    memory_bytes: int = 128 * MiB  # beyond what it shares with its parent (shipped: < 32)
    wall_seconds: float = 15.0


class OutOfTime(Exception):
    """The child used up its CPU time, or gave no answer by the wall-clock deadline."""

    def __init__(self, seconds: float, wall: bool):
        super().__init__(f"no result after {seconds} s ({'wall clock' if wall else 'CPU'})")
        self.seconds = seconds
        self.wall = wall


class OutOfMemory(Exception):
    """The child needed more memory than its limit."""


class ChildFailed(Exception):
    """The child died without an answer (a signal, an exit status)."""


class _CpuExceeded(BaseException):  # noqa: N818 - a signal turned into an unwinding
    """Raised in the child by SIGXCPU; a BaseException, so no `except Exception` inside a
    library swallows it."""


def _on_sigxcpu(signum: int, frame: Any) -> None:
    raise _CpuExceeded()


def _mapped_bytes() -> int:
    """The child's address space right after the fork (what it shares with the parent)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _apply(limits: Limits) -> None:
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    # the soft limit sends SIGXCPU (a clean answer); the hard one, a second later, SIGKILL
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    mapped = _mapped_bytes()
    if mapped:
        cap = mapped + limits.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _child(work: Callable[[], Any], limits: Limits, out: int) -> None:
    status = 0
    try:
        try:
            _apply(limits)
            answer: tuple[Any, ...] = ("ok", work())
        except _CpuExceeded:
            answer = ("cpu",)
        except MemoryError:
            answer = ("memory",)
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
            answer = ("error", exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable error: its text only
            data = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    except BaseException:  # noqa: BLE001 - the child never returns into the parent's code
        status = 70
    finally:
        os._exit(status)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes, None when the deadline passes first."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run(work: Callable[[], Any], limits: Limits = Limits()) -> Any:  # noqa: B008 - frozen
    """work()'s result, computed in a limited child. Its exception is raised here as it was;
    OutOfTime, OutOfMemory or ChildFailed when the limits stopped it."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to be had (EAGAIN, ENOMEM): the job's retry may get one
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # pragma: no cover - the child; its outcome is what the parent sees
        os.close(read_fd)
        _child(work, limits, write_fd)
    os.close(write_fd)
    reaped = False
    try:
        data = _read_until(read_fd, time.monotonic() + limits.wall_seconds)
        if data is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reaped = True
            raise OutOfTime(limits.wall_seconds, wall=True)
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(read_fd)
        if not reaped:  # interrupted while waiting: leave no child behind
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if not data:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            raise OutOfTime(limits.cpu_seconds, wall=False)
        raise ChildFailed(f"the render process ended with status {status}")
    answer = pickle.loads(data)
    if answer[0] == "ok":
        return answer[1]
    if answer[0] == "cpu":
        raise OutOfTime(limits.cpu_seconds, wall=False)
    if answer[0] == "memory":
        raise OutOfMemory(f"more than {limits.memory_bytes // MiB} MiB")
    raise answer[1]
