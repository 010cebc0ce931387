"""Partial responses: Drive returns only what `fields` asks for (or a small default set)."""

from __future__ import annotations

from typing import Any

from fakedrive.errors import ApiError

Tree = dict[str, "Tree | None"]

FILE_DEFAULT: Tree = {"kind": None, "id": None, "name": None, "mimeType": None}
REVISION_DEFAULT: Tree = {"kind": None, "id": None, "mimeType": None, "modifiedTime": None}


def parse_fields(spec: str) -> Tree | None:
    """`a,b(c,d)` → {'a': None, 'b': {'c': None, 'd': None}}; `*` → None (everything)."""
    spec = spec.replace(" ", "")
    if spec in ("", "*"):
        return None
    tree, rest = _parse(spec, 0)
    if rest != len(spec):
        raise ApiError(400, "invalidParameter", f"Invalid field selection {spec}",
                       location="fields", locationType="parameter")
    return tree


def _parse(spec: str, i: int) -> tuple[Tree, int]:
    tree: Tree = {}
    while i < len(spec) and spec[i] != ")":
        j = i
        while j < len(spec) and spec[j] not in ",()":
            j += 1
        name = spec[i:j]
        if not name:
            raise ApiError(400, "invalidParameter", f"Invalid field selection {spec}",
                           location="fields", locationType="parameter")
        sub: Tree | None = None
        if j < len(spec) and spec[j] == "(":
            sub, j = _parse(spec, j + 1)
            if j >= len(spec) or spec[j] != ")":
                raise ApiError(400, "invalidParameter", f"Invalid field selection {spec}",
                               location="fields", locationType="parameter")
            j += 1
        if "/" in name:  # files/id is shorthand for files(id)
            head, _, tail = name.partition("/")
            tree[head] = {tail: sub}
        else:
            tree[name] = sub if name != "*" else None
        if j < len(spec) and spec[j] == ",":
            j += 1
        i = j
    return tree, i


def project(obj: dict[str, Any], tree: Tree | None) -> dict[str, Any]:
    """Keep only the selected keys (recursively for nested objects and lists of objects)."""
    if tree is None or "*" in tree:
        return obj
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in obj:
            continue
        value = obj[key]
        if sub is not None and isinstance(value, dict):
            value = project(value, sub)
        elif sub is not None and isinstance(value, list):
            value = [project(v, sub) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out
