"""Which of the ports `./dev up` wants are taken, checked before anything starts."""

from __future__ import annotations

import socket


def is_busy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` cannot be bound on `host` (something listens there already)."""
    with socket.socket() as s:
        # as the servers themselves bind: a port only in TIME_WAIT is free, a listener is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def refusal(wanted: dict[str, tuple[int, str]]) -> str:
    """A message naming each busy port ({what: (port, option)}), or "" when all are free."""
    lines = [f"  port {port} ({what}) is in use: stop what listens there or pass {option} N"
             for what, (port, option) in wanted.items() if is_busy(port)]
    return "./dev up cannot start:\n" + "\n".join(lines) if lines else ""
