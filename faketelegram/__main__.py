"""`python -m faketelegram --port N [--demo]`: the fake Bot API in the foreground."""

from __future__ import annotations

import argparse
import contextlib

from faketelegram.server import DEMO_CHATS, DEMO_TOKEN, FakeTelegram


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="faketelegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8960)
    parser.add_argument("--demo", action="store_true",
                        help="a demo bot and chats (the token is printed)")
    opts = parser.parse_args(argv)
    fake = FakeTelegram(opts.host, opts.port, demo=opts.demo)
    if opts.demo:
        chats = ", ".join(f"{title} {chat_id}" for chat_id, _kind, title in DEMO_CHATS)
        print(f"demo bot token: {DEMO_TOKEN}; chats: {chats}", flush=True)
    print(f"faketelegram on {fake.url}; control: {fake.url}/_fake/state", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()


if __name__ == "__main__":
    main()
