"""The running stack's addresses in var/devstack.json: `./dev up` writes it, and the
`./dev demo-*` helpers read it, so nobody passes EMULATOR_URL after choosing other ports.

`python -m devstack.running <key>` prints one value (e.g. `emulator`), or says that no stack
runs and exits 1. The file names the pid of `./dev up`; a file left by a stack that was
killed is ignored.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from devstack.processes import ROOT

STATE = ROOT / "var" / "devstack.json"


def write(info: dict[str, Any], path: Path = STATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**info, "pid": os.getpid()}, indent=2) + "\n")
    tmp.replace(path)


def read(path: Path = STATE) -> dict[str, Any] | None:
    """The running stack's record, or None when there is none (or its process is gone)."""
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def clear(path: Path = STATE) -> None:
    """Remove the record if it is this process's own."""
    info = read(path)
    if info is not None and info.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def main(argv: list[str], path: Path = STATE) -> int:
    info = read(path)
    if info is None:
        print("no stack is running: start it with ./dev up", file=sys.stderr)
        return 1
    if not argv:
        print(json.dumps(info, indent=2))
        return 0
    value = info.get(argv[0])
    if value is None:
        print(f"the running stack has no {argv[0]!r} (demo portal off?)", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
