"""`FakeDrive`: the fake served over real HTTP on loopback, plus a Python fault-injection API."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from fakedrive.app import create_app, state_json
from fakedrive.core import Fault, Identity, State


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log: tests and benchmarks would drown in it."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        # After an injected drop the read buffer may still hold body bytes: never parse them
        # as a next request on this (dead) connection.
        self.close_connection = True


def app_env(root_url: str, client_id: str = "fake-client.apps.test",
            client_secret: str = "fake-secret") -> dict[str, str]:
    """The environment that points crm-connector's Google settings at a fake on root_url."""
    root = root_url.rstrip("/") + "/"
    return {"GOOGLE_CLIENT_ID": client_id, "GOOGLE_CLIENT_SECRET": client_secret,
            "GOOGLE_TOKEN_URI": root + "token", "GOOGLE_AUTH_URI": root + "o/oauth2/v2/auth",
            "GOOGLE_API_ROOT": root}


class FakeDrive:
    """A local Google Drive v3 (+ OAuth token endpoint) for tests, demos and benchmarks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 sa_needs_shared_drive: bool = True) -> None:
        self.host = host
        self.port = port
        self.state = State(sa_needs_shared_drive=sa_needs_shared_drive)
        self.app = create_app(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeDrive:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"fakedrive:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.state.close()

    def serve_forever(self) -> None:
        """Foreground serving for `python -m fakedrive`."""
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.state.close()

    def __enter__(self) -> FakeDrive:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL to use as the discovery document's `rootUrl` (ends with a slash)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def token_uri(self) -> str:
        return app_env(self.url)["GOOGLE_TOKEN_URI"]

    @property
    def auth_uri(self) -> str:
        return app_env(self.url)["GOOGLE_AUTH_URI"]

    # ---- fault injection ------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, reason: str | None = None,
                  methods: list[str] | tuple[str, ...] | None = None, *,
                  message: str | None = None, path: str | None = None, after: int = 0,
                  retry_after: int | None = None, seconds: float | None = None) -> None:
        """Answer the next `n` matching Drive requests with a Google-shaped error.

        `methods` limits it to HTTP methods (e.g. ["PUT"] = resumable chunks), `path` to URLs
        containing that text (default: every /drive/ and /upload/ URL; use "/token" to fail the
        token endpoint), `after` lets that many matching requests through first,
        `retry_after` sends that many seconds as Retry-After; `seconds` makes it a storm: every
        matching request fails for that long, however many there are (`n` is ignored).
        """
        with self.state.lock:
            self.state.faults.append(Fault(
                remaining=10**9 if seconds is not None else n, status=status, reason=reason,
                message=message,
                methods=frozenset(m.upper() for m in methods) if methods else None,
                path=path, after=after, retry_after=retry_after,
                until=None if seconds is None else time.time() + seconds))

    def break_upload_after(self, nbytes: int, times: int = 1) -> None:
        """Drop the TCP connection once `nbytes` more upload bytes have been read (mid-chunk).

        Counts across upload requests; with `times` > 1 the next drop is armed afresh after
        each one. Bytes read before a drop stay committed in a resumable session, like Drive.
        """
        with self.state.lock:
            self.state.breaks.extend([nbytes] * times)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        self.state.revoke_refresh_token(refresh_token)

    def revoke_service_account(self, email: str) -> None:
        self.state.revoke_service_account(email)

    def corrupt_next_upload(self, n: int = 1) -> None:
        """Mangle the stored bytes of the next `n` completed uploads (MD5 then differs)."""
        with self.state.lock:
            self.state.corrupt_uploads += n

    def deny_consent(self, deny: bool = True) -> None:
        """Make the fake consent screen answer error=access_denied."""
        self.state.deny_consent = deny

    # ---- setup helpers --------------------------------------------------------------------

    def add_shared_drive(self, name: str) -> str:
        return self.state.add_shared_drive(name)

    def issue_token(self, email: str = "tester@fake.test", kind: str = "user") -> str:
        """An access token without going through /token (for narrow tests)."""
        return self.state.issue_access(Identity(kind, email), "direct")

    def new_auth_code(self, refresh_token: str | None = None,
                      redirect_uri: str | None = None) -> str:
        """A one-time authorization code that /token exchanges for `refresh_token`."""
        return self.state.new_auth_code(refresh_token, redirect_uri)

    # ---- inspection -----------------------------------------------------------------------

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.state.snapshot()

    def file(self, file_id: str) -> dict[str, Any]:
        for item in self.files:
            if item["id"] == file_id:
                return item
        raise KeyError(file_id)

    def find(self, **app_props: str) -> list[dict[str, Any]]:
        """Files whose appProperties contain all the given pairs."""
        return [f for f in self.files
                if all(f["appProperties"].get(k) == v for k, v in app_props.items())]

    def blob(self, file_id: str, revision_id: str | None = None) -> bytes:
        """Content of a file (head or given revision) — tests only, reads it whole."""
        with self.state.lock:
            rec = self.state.files[file_id]
            revs = [r for r in rec.revisions if revision_id in (None, r.id)]
        if not revs:
            raise KeyError(revision_id or file_id)
        return Path(revs[-1].path).read_bytes()

    @property
    def log(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(e) for e in self.state.log]

    @property
    def counters(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.counters)

    def clear_log(self) -> None:
        with self.state.lock:
            self.state.log.clear()
            self.state.counters.clear()

    def state_json(self) -> dict[str, Any]:
        return state_json(self.state)
