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
_CACHEABLE = 100  # longer texts are decoded every time: the caches never hold a big one
_CACHE_SIZE = 4096
# a bracket key's parts and which of them are list indexes; None for a plain key
Path = tuple[tuple[str, ...], tuple[bool, ...]] | None
_PATHS: dict[str, tuple[str, Path]] = {}  # raw key → (decoded key, its path)
_DECODED: dict[str, str] = {}  # raw text → decoded (keys, and values a portal repeats)


def parse_nested(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn flat pairs into nested dicts; dicts keyed 0..n-1 become lists (never the root:
    `0=a&1=b` is still a dict of two fields)."""
    return _assemble((key, _path(key), value) for key, value in pairs)


def parse_form(text: str) -> dict[str, Any]:
    """`parse_nested(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))`,
    in a fraction of its time: each distinct raw key is decoded and split once per process
    (a portal sends the same few dozen keys every time), a value without `%` or `+` is
    taken as it is. A test holds the two equal for any text."""
    if text and text.count("&") + 1 > MAX_FIELDS:
        raise ValueError("Max number of fields exceeded")
    return _assemble(_form_items(text.split("&") if text else ()))


def _form_items(parts: Iterable[str]) -> Iterable[tuple[str, Path, str]]:
    for part in parts:
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        known = _PATHS.get(raw_key)
        if known is None:
            key = _decoded(raw_key)
            known = (key, _path(key))
            _remember(_PATHS, raw_key, known)
        yield known[0], known[1], _decoded(raw_value)


def _decoded(raw: str) -> str:
    """`unquote_plus` as parse_qsl applies it, remembered for short texts."""
    if "%" not in raw and "+" not in raw:
        return raw
    known = _DECODED.get(raw)
    if known is None:
        known = unquote(raw.replace("+", " "))
        _remember(_DECODED, raw, known)
    return known


def _remember(cache: dict[str, Any], raw: str, value: Any) -> None:
    if len(raw) <= _CACHEABLE:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[raw] = value


def _path(key: str) -> Path:
    """The parts of a bracket key (`a[b][]` → a, b, "") and which are list indexes."""
    match = _KEY.match(key)
    if not match:
        return None
    parts = (match.group(1), *_PART.findall(match.group(2)))
    if len(parts) > MAX_DEPTH:
        raise FormError(f"form key nested too deep: {key[:60]}")
    return parts, tuple(_is_index(p) for p in parts)


def _assemble(items: Iterable[tuple[str, Path, str]]) -> dict[str, Any]:
    """Nested dicts from (key, path, value); then the dicts that got a list index and are
    keyed exactly 0..n-1 become lists, deepest first, and no other dict is visited."""
    root: dict[str, Any] = {}
    maybe_lists: list[tuple[int, dict[str, Any], str, dict[str, Any]]] = []
    for key, path, value in items:
        if path is None:
            root[key] = value
            continue
        parts, indexes = path
        holder: dict[str, Any] | None = None
        held = ""
        node = root
        last = len(parts) - 1
        for i, part in enumerate(parts):
            index = indexes[i]
            if part == "":
                part = str(max((int(k) for k in node if _is_index(k)), default=-1) + 1)
                index = True
            if index and holder is not None:
                maybe_lists.append((i, holder, held, node))
            if i == last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                holder, held, node = node, part, child
    for _, holder, held, node in sorted(maybe_lists, key=lambda c: c[0], reverse=True):
        n = len(node)
        if holder.get(held) is node and all(str(i) in node for i in range(n)):
            holder[held] = [node[str(i)] for i in range(n)]  # keys exactly "0".."n-1"
    return root


def _is_index(key: str) -> bool:
    return _INDEX.fullmatch(key) is not None


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
