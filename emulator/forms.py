"""PHP-style nested form handling.

Bitrix24 is a PHP application: it reads ``fields[TITLE]=x`` and ``values[]=a`` the way PHP's
``parse_str`` does and sends its own outgoing POSTs the way ``http_build_query`` encodes them.
The emulator must speak that dialect in both directions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

_KEY_RE = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)(.*)$")


def _split_key(key: str) -> list[str]:
    """Split ``a[b][]`` into ``["a", "b", ""]`` (PHP treats trailing junk as part of the name)."""
    m = _KEY_RE.match(key)
    if not m:
        return [key]
    head, brackets, rest = m.groups()
    if rest:
        return [key]
    parts = [head]
    parts.extend(re.findall(r"\[([^\]]*)\]", brackets))
    return parts


def _listify(node: Any) -> Any:
    """Turn dicts with keys 0..n-1 into lists, as PHP's json_encode would render them."""
    if isinstance(node, dict):
        fixed = {k: _listify(v) for k, v in node.items()}
        keys = list(fixed.keys())
        if keys and all(k == str(i) for i, k in enumerate(keys)):
            return [fixed[k] for k in keys]
        return fixed
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build a nested structure from flat ``key=value`` pairs using PHP bracket rules."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                # PHP "[]": append with the next free integer key.
                nums = [int(k) for k in node if k.isdigit()]
                part = str(max(nums) + 1 if nums else 0)
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def parse_query(qs: str) -> dict[str, Any]:
    """Parse a raw query string (as found inside batch commands)."""
    return parse_pairs(parse_qsl(qs, keep_blank_values=True))


def _scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False or value is None:
        return "0" if value is False else ""
    return str(value)


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts/lists into ``a[b][0]=v`` pairs (http_build_query style)."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        items: Iterable[tuple[Any, Any]] = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    else:
        return [(prefix, _scalar(data))]
    for k, v in items:
        key = f"{prefix}[{k}]" if prefix else str(k)
        if isinstance(v, dict | list | tuple):
            out.extend(flatten(v, key))
        else:
            out.append((key, _scalar(v)))
    return out


def encode(data: dict[str, Any]) -> str:
    """Encode a nested dict as an ``application/x-www-form-urlencoded`` body."""
    return urlencode(flatten(data))
