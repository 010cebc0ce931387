"""``python -m emulator``: a seeded demo portal in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

import requests

from .core import Emulator
from .seed import DEMO_LANGUAGE
from .server import EmulatorServer
from .state import EmulatorConfig

log = logging.getLogger("emulator")


def _install_when_ready(emu: Emulator, app_url: str, timeout: float = 60.0) -> None:
    """Poll the app's /healthz, then install the app on the demo portal once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(app_url.rstrip("/") + "/healthz", timeout=2).status_code < 500:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        log.error("app at %s did not answer /healthz within %.0f s; not installing",
                  app_url, timeout)
        return
    result = emu.install(event="after")
    log.info("install: installer page %s, installed=%s", result["status_code"],
             result["installed"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator",
                                     description="Local Bitrix24 portal emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--app-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", default="local.demo")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--token-ttl", type=float, default=3600.0)
    parser.add_argument("--scopes", default=None)
    parser.add_argument("--enterprise", action="store_true", help="5 req/s, threshold 250")
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--no-seed", action="store_true", help="empty portal (admin only)")
    parser.add_argument("--install", action="store_true",
                        help="install the app once <app-url>/healthz answers")
    parser.add_argument("--domain", default=None,
                        help="the demo portal's domain (default: this emulator's host:port, so "
                             "the app's frame policy lets the demo pages frame it)")
    parser.add_argument("--language", default=DEMO_LANGUAGE,
                        help="the portal's language (LANG, LANGUAGE_ID); default %(default)s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = EmulatorConfig(
        client_id=args.client_id, client_secret=args.client_secret, app_url=args.app_url,
        token_ttl=args.token_ttl, enterprise=args.enterprise,
        rate_limit_enabled=not args.no_rate_limit, language_id=args.language,
    )
    if args.scopes:
        config.scopes = args.scopes
    emu = Emulator(config, seed=not args.no_seed)
    server = EmulatorServer(emu, args.host, args.port, verbose=True)
    portal = emu.portal()
    with emu.lock:  # before the install, which tells the app this domain
        portal.domain = args.domain or f"{server.host}:{server.port}"
    log.info("emulator listening on %s; demo portal %s/demo/", server.url, server.url)
    log.info("portal %s member_id=%s", portal.domain, portal.member_id)
    log.info("REST %s  OAuth server %s  control %s/_emulator/portal",
             emu.client_endpoint, emu.oauth_server, server.url)
    if args.install:
        threading.Thread(target=_install_when_ready, args=(emu, args.app_url),
                         daemon=True).start()
    # SIGTERM ends like Ctrl-C, so the finally below removes Disk temp files
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.close()


if __name__ == "__main__":
    main()
