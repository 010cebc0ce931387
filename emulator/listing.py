"""Bitrix24 list semantics: filter prefixes, order, select and 50-row pages.

Rows live in a :class:`Table` that keeps IDs sorted, so the "fast listing" pattern
(``order[ID]=ASC``, ``filter[>ID]=N``, ``start=-1``) bisects to the cursor and reads 50 rows
instead of scanning 100,000 — the same property that makes it fast on a real portal.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

PAGE_SIZE = 50

# Longest prefixes first so "!@" wins over "!".
_OPERATORS = ["!%=", "!=%", "!@", "!=", "!%", ">=", "<=", "=%", "%=", ">", "<", "@", "%", "!", "="]
_NUM_RE = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_RU_DATE_RE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})( \d{2}:\d{2}(:\d{2})?)?$")
# Naive datetimes in filters are read in the portal's time zone, as Bitrix does.
PORTAL_TZ = timezone(timedelta(hours=3))


@dataclass
class ListResult:
    """A page of rows plus the paging markers Bitrix puts next to ``result``."""

    items: list[Any]
    total: int | None = None
    next: int | None = None


def split_filter_key(key: str) -> tuple[str, str]:
    """Return (operator, FIELD) for a filter key such as ``>=DATE_CREATE``."""
    for op in _OPERATORS:
        if key.startswith(op) and len(key) > len(op):
            return op, key[len(op):].upper()
    return "=", key.upper()


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str) and _NUM_RE.match(v.strip()):
        return float(v)
    return None


@lru_cache(maxsize=65536)
def _parse_dt(s: str) -> datetime | None:
    """ISO 8601 (with or without offset) or ``dd.mm.yyyy [hh:mm[:ss]]`` as an aware datetime."""
    s = s.strip()
    m = _RU_DATE_RE.match(s)
    if m:
        s = f"{m.group(3)}-{m.group(2)}-{m.group(1)}{(m.group(4) or '').replace(' ', 'T')}"
    elif not _DATE_RE.match(s):
        return None
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=PORTAL_TZ)


def _dt(v: Any) -> datetime | None:
    if isinstance(v, str) and len(v) >= 10 and (v[4] == "-" or v[2] == "."):
        return _parse_dt(v)
    return None


def _norm_bool(v: Any) -> str:
    if isinstance(v, bool):
        return "Y" if v else "N"
    s = str(v).strip().upper()
    if s in ("Y", "1", "TRUE"):
        return "Y"
    if s in ("N", "0", "FALSE", ""):
        return "N"
    return s


def _cmp(a: Any, b: Any) -> int:
    """Compare as datetimes, numbers or case-insensitive strings, whichever both look like."""
    if isinstance(a, bool) or isinstance(b, bool):
        x, y = _norm_bool(a), _norm_bool(b)
    else:
        na, nb = _num(a), _num(b)
        if na is not None and nb is not None:
            return (na > nb) - (na < nb)
        da, db = _dt(a), _dt(b)
        if da is not None and db is not None:
            return (da > db) - (da < db)
        x = "" if a is None else str(a).lower()
        y = "" if b is None else str(b).lower()
    return (x > y) - (x < y)


def _like(value: Any, pattern: str) -> bool:
    rx = "^" + "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
    ) + "$"
    return re.match(rx, "" if value is None else str(value), re.IGNORECASE | re.DOTALL) is not None


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    if isinstance(v, dict):
        return list(v.values())
    return [v]


def _match_one(op: str, value: Any, want: Any) -> bool:
    if op in ("=", "@"):
        if isinstance(want, list | tuple | dict):
            return any(_cmp(value, w) == 0 for w in _as_list(want))
        if want == "" or want is None:
            return value in ("", None) or (isinstance(value, list) and not value)
        return _cmp(value, want) == 0
    if op in ("!", "!=", "!@"):
        return not _match_one("=", value, want)
    if op == ">":
        return value not in (None, "") and _cmp(value, want) > 0
    if op == ">=":
        return value not in (None, "") and _cmp(value, want) >= 0
    if op == "<":
        return value not in (None, "") and _cmp(value, want) < 0
    if op == "<=":
        return value not in (None, "") and _cmp(value, want) <= 0
    if op == "%":
        return str(want).lower() in ("" if value is None else str(value)).lower()
    if op == "!%":
        return not _match_one("%", value, want)
    if op in ("=%", "%="):
        return _like(value, str(want))
    if op in ("!%=", "!=%"):
        return not _like(value, str(want))
    return False


def compile_filter(flt: Any) -> list[tuple[str, str, Any]]:
    """Turn a filter map into (op, FIELD, value) conditions; non-dicts mean "no filter"."""
    if not isinstance(flt, dict):
        return []
    return [(*split_filter_key(str(k)), v) for k, v in flt.items()]


def row_matches(row: dict[str, Any], conds: list[tuple[str, str, Any]]) -> bool:
    """True when every condition holds; multi-value fields match when any element does."""
    for op, field, want in conds:
        value = row.get(field)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = [v.get("VALUE") for v in value]  # PHONE/EMAIL multi-fields
        if isinstance(value, list):
            negative = op.startswith("!")
            pos_op = {"!": "=", "!=": "=", "!@": "@", "!%": "%", "!%=": "=%", "!=%": "=%"}.get(
                op, op
            )
            hit = any(_match_one(pos_op, v, want) for v in value) if value else _match_one(
                pos_op, None, want
            )
            if hit == negative:
                return False
        elif not _match_one(op, value, want):
            return False
    return True


def parse_order(order: Any, default: str = "ID") -> list[tuple[str, bool]]:
    """Return [(FIELD, descending)], defaulting to ID ascending."""
    out: list[tuple[str, bool]] = []
    if isinstance(order, dict):
        for k, v in order.items():
            out.append((str(k).upper(), str(v).upper() == "DESC"))
    return out or [(default, False)]


def _sort_key(v: Any) -> tuple[int, float, str]:
    if v is None or v == "":
        return (0, 0.0, "")
    n = _num(v)
    if n is not None:
        return (1, n, "")
    return (2, 0.0, str(v).lower())


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort (applied last key first)."""
    out = list(rows)
    for field, desc in reversed(order):
        out.sort(key=lambda r, f=field: _sort_key(r.get(f)), reverse=desc)
    return out


def parse_start(value: Any) -> int:
    """``start`` as an int; garbage means 0 like PHP's intval."""
    try:
        return int(str(value).strip() or 0)
    except (TypeError, ValueError):
        return 0


def page(rows: Iterable[Any], start: int, total: int | None) -> ListResult:
    """Cut one page out of already filtered and ordered rows."""
    items = list(rows)
    if start < 0:
        return ListResult(items[:PAGE_SIZE])
    chunk = items[start:start + PAGE_SIZE]
    count = total if total is not None else len(items)
    nxt = start + PAGE_SIZE if start + PAGE_SIZE < count else None
    return ListResult(chunk, count, nxt)


class Table:
    """Rows keyed by integer ID with IDs kept sorted for bisecting cursors."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.ids: list[int] = []
        self.last_id = 0

    def __len__(self) -> int:
        return len(self.rows)

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def put(self, row_id: int, row: dict[str, Any]) -> None:
        if row_id not in self.rows:
            if not self.ids or row_id > self.ids[-1]:
                self.ids.append(row_id)
            else:
                bisect.insort(self.ids, row_id)
            self.last_id = max(self.last_id, row_id)
        self.rows[row_id] = row

    def get(self, row_id: int) -> dict[str, Any] | None:
        return self.rows.get(row_id)

    def delete(self, row_id: int) -> bool:
        if self.rows.pop(row_id, None) is None:
            return False
        i = bisect.bisect_left(self.ids, row_id)
        if i < len(self.ids) and self.ids[i] == row_id:
            del self.ids[i]
        return True

    def _id_range(self, conds: list[tuple[str, str, Any]]) -> tuple[int, int]:
        """Narrow the ID slice using ID comparisons in the filter."""
        lo, hi = 0, len(self.ids)
        for op, field, want in conds:
            if field != "ID" or isinstance(want, list | dict):
                continue
            n = _num(want)
            if n is None:
                continue
            if op == ">":
                lo = max(lo, bisect.bisect_right(self.ids, n))
            elif op == ">=":
                lo = max(lo, bisect.bisect_left(self.ids, n))
            elif op == "<":
                hi = min(hi, bisect.bisect_left(self.ids, n))
            elif op == "<=":
                hi = min(hi, bisect.bisect_right(self.ids, n))
            elif op == "=":
                lo = max(lo, bisect.bisect_left(self.ids, n))
                hi = min(hi, bisect.bisect_right(self.ids, n))
        return lo, max(lo, hi)

    def _scan(self, conds: list[tuple[str, str, Any]], desc: bool) -> Iterator[dict[str, Any]]:
        lo, hi = self._id_range(conds)
        rng = range(hi - 1, lo - 1, -1) if desc else range(lo, hi)
        ids, rows = self.ids, self.rows
        for i in rng:
            row = rows[ids[i]]
            if row_matches(row, conds):
                yield row

    def query(
        self,
        flt: Any = None,
        order: Any = None,
        start: int = 0,
        visible: Callable[[dict[str, Any]], bool] | None = None,
    ) -> ListResult:
        """Filter, order and page; ID-ordered queries stream instead of sorting."""
        conds = compile_filter(flt)
        ordering = parse_order(order)
        by_id = len(ordering) == 1 and ordering[0][0] == "ID"
        rows: Iterable[dict[str, Any]] = self._scan(conds, by_id and ordering[0][1])
        if visible is not None:
            rows = (r for r in rows if visible(r))
        if by_id:
            if start < 0:
                out = []
                for r in rows:
                    out.append(r)
                    if len(out) >= PAGE_SIZE:
                        break
                return ListResult(out)
            total = 0
            chunk: list[dict[str, Any]] = []
            for r in rows:
                if start <= total < start + PAGE_SIZE:
                    chunk.append(r)
                total += 1
            nxt = start + PAGE_SIZE if start + PAGE_SIZE < total else None
            return ListResult(chunk, total, nxt)
        ordered = sort_rows(list(rows), ordering)
        return page(ordered, start, None if start < 0 else len(ordered))


def select_fields(
    row: dict[str, Any], select: Any, standard: Iterable[str]
) -> dict[str, Any]:
    """Apply ``select``: none/``*`` = standard fields, ``UF_*`` = user fields, else names."""
    std = list(standard)
    names: list[str] = []
    if isinstance(select, dict):
        select = list(select.values())
    if isinstance(select, str):
        select = [select]
    wanted = [str(s).upper() for s in select] if isinstance(select, list) else []
    if not wanted:
        wanted = ["*"]
    for w in wanted:
        if w == "*":
            names.extend(std)
        elif w == "UF_*":
            names.extend(k for k in row if k.startswith("UF_"))
        else:
            names.append(w)
    if "ID" not in names:
        names.insert(0, "ID")
    out: dict[str, Any] = {}
    for n in names:
        if n in out:
            continue
        out[n] = row.get(n)
    return out
