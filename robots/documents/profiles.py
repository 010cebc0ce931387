"""LibreOffice user profiles for the PDF conversion: one conversion on a profile at a time,
and the same few profiles reused.

Two soffice processes on one profile do not both convert: the second hands its arguments
to the first over the profile's pipe and leaves, or waits for it, or finds the profile
locked. So a conversion takes a numbered slot under an exclusive flock, the lowest one free,
and gives it back when it ends. The lock's descriptor is handed to soffice too: a soffice
still running after its caller died (a work-horse killed with -9) keeps its profile locked.

Why slots rather than a profile per process id: RQ forks a new work-horse for every job,
so a profile named after its pid would be new, and cold, every time (LibreOffice's first
start in an empty profile writes it, which bench.documents measures as pdf_cold_seconds).
Lowest-first keeps a host's conversions on the same warm profiles.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BASE = Path(tempfile.gettempdir()) / f"crm-connector-soffice-{os.getuid()}"
SLOTS = 32  # conversions at once on one host; more wait for their job's retry


class AllBusy(Exception):
    """Every slot is taken by a running conversion."""


@dataclass(frozen=True)
class Profile:
    """A slot taken: LibreOffice's user installation, the HOME soffice gets, the lock."""

    slot: int
    path: Path
    home: Path
    lock_fd: int
    fresh: bool  # no profile was there yet: this conversion pays LibreOffice's first start

    @property
    def url(self) -> str:
        """The -env:UserInstallation value (file:///…)."""
        return self.path.as_uri()

    def discard(self) -> None:
        """Remove the profile (after a conversion that did not end well, which may have left
        it half written); the next conversion in this slot starts cold."""
        shutil.rmtree(self.path, ignore_errors=True)


def _own_dir(path: Path) -> None:
    """`path` exists as a directory of this user that nobody else may enter (it is under
    the shared temporary directory, where another user could have made it first)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory of user {os.getuid()}")
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def taken(base: Path = BASE, slots: int = SLOTS) -> Iterator[Profile]:
    """The lowest free profile slot under `base`, locked while the block runs; AllBusy when
    `slots` conversions run already."""
    _own_dir(base)
    for slot in range(slots):
        fd = _try_lock(base / f"slot-{slot}.lock")
        if fd is None:
            continue
        try:
            path, home = base / f"slot-{slot}", base / f"slot-{slot}-home"
            fresh = not path.exists()
            home.mkdir(mode=0o700, exist_ok=True)
            yield Profile(slot, path, home, fd, fresh)
            return
        finally:
            os.close(fd)  # the lock goes with the last descriptor (soffice may hold one)
    raise AllBusy(f"all {slots} LibreOffice profiles under {base} are in use")
