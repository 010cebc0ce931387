"""A strict parser for the subset of Drive's `q` language the app uses.

Anything outside the subset is rejected with 400 so a test can never pass while relying on a
search feature the fake does not really implement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakedrive.errors import ApiError

SUPPORTED = ("appProperties has { key='k' and value='v' }, properties has {...}, "
             "'<id>' in parents, name = '...', mimeType = / != '...', trashed = true|false, "
             "joined by 'and'")

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\{|\})|(?P<word>[A-Za-z_]+)"
                    r"|(?P<bad>\S))")

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(q: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup or "bad"
        out.append(_Tok(kind, m.group(kind)))
    if q[pos:].strip():
        raise invalid(q, f"cannot read {q[pos:]!r}")
    return out


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def invalid(q: str, why: str) -> ApiError:
    return ApiError(400, "invalidQuery",
                    f"Invalid query: {why} (fakedrive supports only {SUPPORTED})",
                    location="q", locationType="parameter")


class _Parser:
    def __init__(self, q: str, aliases: dict[str, str]) -> None:
        self.q = q
        self.aliases = aliases
        self.toks = _tokens(q)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, text: str | None = None, ci: bool = False) -> str:
        tok = self.peek()
        if tok is None or tok.kind != kind or (
                text is not None and (tok.text.lower() if ci else tok.text) != text):
            got = tok.text if tok else "end of query"
            raise invalid(self.q, f"expected {text or kind} but found {got!r}")
        self.i += 1
        return tok.text

    def parse(self) -> list[Predicate]:
        if not self.toks:
            return []
        preds = [self.clause()]
        while self.peek() is not None:
            self.take("word", "and", ci=True)
            preds.append(self.clause())
        return preds

    def clause(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise invalid(self.q, "empty clause")
        if tok.kind == "str":
            value = _unquote(self.take("str"))
            value = self.aliases.get(value, value)
            self.take("word", "in")
            self.take("word", "parents")
            return lambda f: value in f.get("parents", [])
        field = self.take("word")
        if field in ("appProperties", "properties"):
            return self.has(field)
        if field == "name":
            self.take("op", "=")
            name = _unquote(self.take("str"))
            return lambda f: f.get("name") == name
        if field == "mimeType":
            op = self.take("op")
            if op not in ("=", "!="):
                raise invalid(self.q, f"operator {op!r} on mimeType")
            mime = _unquote(self.take("str"))
            return (lambda f: f.get("mimeType") == mime) if op == "=" else (
                lambda f: f.get("mimeType") != mime)
        if field == "trashed":
            self.take("op", "=")
            word = self.take("word").lower()
            if word not in ("true", "false"):
                raise invalid(self.q, f"trashed = {word}")
            flag = word == "true"
            return lambda f: bool(f.get("trashed")) is flag
        raise invalid(self.q, f"unsupported clause starting at {field!r}")

    def has(self, field: str) -> Predicate:
        self.take("word", "has")
        self.take("op", "{")
        self.take("word", "key")
        self.take("op", "=")
        key = _unquote(self.take("str"))
        self.take("word", "and", ci=True)
        self.take("word", "value")
        self.take("op", "=")
        value = _unquote(self.take("str"))
        self.take("op", "}")
        return lambda f: f.get(field, {}).get(key) == value


def compile_query(q: str | None, aliases: dict[str, str] | None = None) -> Predicate:
    """Return a predicate over a file's full resource dict; raises ApiError 400 when unsupported.

    `aliases` maps ids such as 'root' to the caller's real folder id.
    """
    preds = _Parser(q, aliases or {}).parse() if q else []
    return lambda f: all(p(f) for p in preds)
