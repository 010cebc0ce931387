"""PHP-style nested form keys (auth[member_id], data[FIELDS][ID], cmd[a]) both ways."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
# a list index as PHP writes one: ASCII digits, no leading zero ("٠", "01" and "1" * 5000 are
# plain keys, so `a[0]=x&a[01]=y` is a dict and no index needs int() on a huge string)
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
MAX_DEPTH = 8


class FormError(ValueError):
    """A key the parser will not accept (too deep, malformed)."""


def parse_nested(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn flat pairs into nested dicts; dicts keyed 0..n-1 become lists (never the root:
    `0=a&1=b` is still a dict of two fields)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            root[key] = value
            continue
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(parts) > MAX_DEPTH:
            raise FormError(f"form key nested too deep: {key[:60]}")
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                part = str(max((int(k) for k in node if _is_index(k)), default=-1) + 1)
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return {k: _listify(v) for k, v in root.items()}


def _is_index(key: str) -> bool:
    return _INDEX.fullmatch(key) is not None


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(_is_index(k) for k in out) and all(str(i) in out for i in range(len(out))):
        return [out[str(i)] for i in range(len(out))]
    return out


def flatten(params: Mapping[str, Any] | list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """The inverse: nested params to PHP-style pairs (for batch command strings)."""
    items: Iterable[tuple[Any, Any]]
    items = params.items() if isinstance(params, Mapping) else enumerate(params)
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping | list | tuple):
            if not value:
                pairs.append((name, ""))
            pairs.extend(flatten(value if not isinstance(value, tuple) else list(value), name))
        elif value is None:
            pairs.append((name, ""))
        elif isinstance(value, bool):
            pairs.append((name, "Y" if value else "N"))
        else:
            pairs.append((name, str(value)))
    return pairs


def encode(params: Mapping[str, Any]) -> str:
    """Query-string form of nested params, keeping `$result[...]` references readable."""
    safe = "[]$"
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in flatten(params))
