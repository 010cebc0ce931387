"""PHP-style nested form keys (auth[member_id], data[FIELDS][ID], cmd[a]) both ways."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
# a list index as PHP writes one: ASCII digits, no leading zero ("٠", "01" and "1" * 5000 are
# plain keys, so `a[0]=x&a[01]=y` is a dict and no index needs int() on a huge string)
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
MAX_DEPTH = 8


class FormError(ValueError):
    """A key the parser will not accept (too deep, malformed)."""


MAX_FIELDS = 2000  # pairs in one form body, as parse_qsl's max_num_fields counts them
_CACHEABLE_KEY = 100  # longer keys are parsed every time: the cache never holds a big key
_CACHE_SIZE = 4096
_PATHS: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def parse_nested(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn flat pairs into nested dicts; dicts keyed 0..n-1 become lists (never the root:
    `0=a&1=b` is still a dict of two fields)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _put(root, key, _path(key), value)
    return {k: _listify(v) if isinstance(v, dict) else v for k, v in root.items()}


def parse_form(text: str) -> dict[str, Any]:
    """`parse_nested(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))`,
    in a fraction of its time: each distinct raw key is decoded and split once per process
    (a portal sends the same few dozen keys every time), a value without `%` or `+` is
    taken as it is. A test holds the two equal for any text."""
    if text and text.count("&") + 1 > MAX_FIELDS:
        raise ValueError("Max number of fields exceeded")
    root: dict[str, Any] = {}
    for part in text.split("&") if text else ():
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        known = _PATHS.get(raw_key)
        if known is None:
            key = unquote(raw_key.replace("+", " "))
            known = (key, _path(key))
            if len(raw_key) <= _CACHEABLE_KEY:
                if len(_PATHS) >= _CACHE_SIZE:
                    _PATHS.clear()
                _PATHS[raw_key] = known
        value = unquote(raw_value.replace("+", " ")) if "%" in raw_value or "+" in raw_value \
            else raw_value
        _put(root, known[0], known[1], value)
    return {k: _listify(v) if isinstance(v, dict) else v for k, v in root.items()}


def _path(key: str) -> tuple[str, ...] | None:
    """The parts of a bracket key (`a[b][]` → a, b, ""), None for a plain key."""
    match = _KEY.match(key)
    if not match:
        return None
    parts = (match.group(1), *_PART.findall(match.group(2)))
    if len(parts) > MAX_DEPTH:
        raise FormError(f"form key nested too deep: {key[:60]}")
    return parts


def _put(root: dict[str, Any], key: str, parts: tuple[str, ...] | None, value: str) -> None:
    if parts is None:
        root[key] = value
        return
    node = root
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if part == "":
            part = str(max((int(k) for k in node if _is_index(k)), default=-1) + 1)
        if i == last:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def _is_index(key: str) -> bool:
    return _INDEX.fullmatch(key) is not None


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) if isinstance(v, dict) else v for k, v in node.items()}
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
