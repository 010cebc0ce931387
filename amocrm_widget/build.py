"""Pack the widget for upload: `widget.zip` with manifest.json at its root, the app's public
address written where the sources say __BACKEND__ (the pipeline step's webhook_url, the
script's calls). amoCRM takes the archive in Settings → Integrations → your integration →
"Upload widget" (https://www.amocrm.com/developers/content/integrations/upload).

    .venv/bin/python amocrm_widget/build.py https://connector.example.com [-o widget.zip]

The address defaults to PUBLIC_BASE_URL. It must be https (amoCRM's pages are https and a
browser refuses their calls to plain http), except on loopback for a local try.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

SOURCES = Path(__file__).resolve().parent / "src"
PLACEHOLDER = "__BACKEND__"
FILLED = ("manifest.json", "script.js")  # the files that name the app's address
LOOPBACK = ("127.0.0.1", "localhost")


def backend_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(f"not an address like https://connector.example.com: {value!r}")
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:
        raise ValueError("amoCRM's pages are https: the app's address must be https too")
    return value.strip().rstrip("/")


def files(backend: str) -> dict[str, bytes]:
    """Archive name → content, the address filled in; the manifest checked as JSON."""
    out: dict[str, bytes] = {}
    for path in sorted(p for p in SOURCES.rglob("*") if p.is_file()):
        name = path.relative_to(SOURCES).as_posix()
        data = path.read_bytes()
        if name in FILLED:
            data = data.decode().replace(PLACEHOLDER, backend).encode()
        out[name] = data
    json.loads(out["manifest.json"])
    for lang in json.loads(out["manifest.json"])["widget"]["locale"]:
        json.loads(out[f"i18n/{lang}.json"])
    return out


def build(backend: str, target: Path) -> Path:
    content = files(backend_url(backend))
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pack the amoCRM widget (widget.zip).")
    parser.add_argument("backend", nargs="?", default=os.environ.get("PUBLIC_BASE_URL", ""),
                        help="the app's public address (default: PUBLIC_BASE_URL)")
    parser.add_argument("-o", "--out", default="widget.zip", help="where to write the zip")
    args = parser.parse_args(argv)
    try:
        path = build(args.backend, Path(args.out))
    except ValueError as exc:
        print(f"widget not built: {exc}", file=sys.stderr)
        return 2
    print(f"{path} ready: upload it in amoCRM → Settings → Integrations → your integration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
