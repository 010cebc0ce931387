"""JSON from outside (request bodies, PLACEMENT_OPTIONS): parsed with a depth limit, so a
document nested a thousand levels deep is a clear ValueError and never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # Bitrix24's deepest payload (data[FIELDS][UF_...][n]) is a handful of levels


class TooDeep(ValueError):
    """A JSON document nested deeper than the limit."""


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` that refuses documents nested deeper than `max_depth` (ValueError)."""
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the interpreter's stack: deeper than any limit
        raise TooDeep(f"JSON nested deeper than {max_depth} levels") from None
    if depth_over(value, max_depth):
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return value


def depth_over(value: Any, max_depth: int) -> bool:
    """Whether containers in `value` nest deeper than `max_depth` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if level + 1 > max_depth:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
