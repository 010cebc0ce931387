"""Raw request bodies from tests/fixtures, named EVENT__variant.txt, with values filled in."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def body(name: str, **values: object) -> bytes:
    text = (FIXTURES / f"{name}.txt").read_text().strip()
    values.setdefault("ts", int(time.time()))
    values.setdefault("id", 1)
    values.setdefault("domain", "demo.bitrix24.test")
    for key, value in values.items():
        text = text.replace("{" + key + "}", quote(str(value), safe=""))
    return text.encode()


def names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.txt"))
