"""`python -m fakedrive --port N`: run the fake Drive in the foreground for demos."""

from __future__ import annotations

import argparse
import contextlib

from fakedrive.server import FakeDrive


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fakedrive", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--shared-drive", action="append", default=[],
                        help="create a shared drive with this name (repeatable)")
    parser.add_argument("--token", action="store_true",
                        help="print a ready-to-use access token")
    opts = parser.parse_args(argv)
    fake = FakeDrive(opts.host, opts.port)
    for name in opts.shared_drive:
        print(f"shared drive {name!r}: {fake.add_shared_drive(name)}", flush=True)
    if opts.token:
        print(f"access token: {fake.issue_token()}", flush=True)
    print(f"fakedrive on {fake.url} (token endpoint {fake.token_uri}); control: "
          f"{fake.url}_fake/state", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()


if __name__ == "__main__":
    main()
