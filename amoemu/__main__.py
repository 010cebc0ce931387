"""`python -m amoemu --port N [--demo]`: the amoCRM emulator in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import os
import threading

from amoemu.server import AmoEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="amoemu", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8970)
    parser.add_argument("--demo", action="store_true",
                        help="the demo account autoservis.amocrm.ru")
    parser.add_argument("--client-id", default=os.environ.get("AMOCRM_CLIENT_ID",
                                                              "amoemu-client-id"))
    parser.add_argument("--client-secret", default=os.environ.get(
        "AMOCRM_CLIENT_SECRET", "amoemu-client-secret-" + "0" * 42))
    parser.add_argument("--redirect-uri", default=os.environ.get(
        "AMOCRM_REDIRECT_URI", "http://127.0.0.1:8000/amocrm/oauth"))
    parser.add_argument("--disable-hook-url", default=os.environ.get(
        "AMOCRM_DISABLE_HOOK_URL", ""))
    opts = parser.parse_args(argv)
    emu = AmoEmulator(opts.client_id, opts.client_secret, opts.redirect_uri,
                      opts.disable_hook_url, host=opts.host, port=opts.port, demo=opts.demo)
    emu.start()  # binds the port first, so the address printed is the real one
    print(f"amoemu on {emu.url}; control: {emu.url}/_emulator/accounts", flush=True)
    for acc in emu.state.accounts.values():
        print(f"account {acc.id} {acc.domain} ({acc.name}): "
              f"{emu.url}/{acc.domain}/api/v4/account; "
              f"consent: {emu.url}/www.amocrm.ru/oauth?client_id={opts.client_id}"
              f"&state=demo&mode=post_message", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    emu.stop()


if __name__ == "__main__":
    main()
