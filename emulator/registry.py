"""The method table: name → implementation, required scope and admin flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import RestError

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Portal, TokenRecord


@dataclass
class CallContext:
    """Who is calling: the portal, the token (user) and whether inside a batch."""

    emu: Emulator
    portal: Portal
    token: TokenRecord
    in_batch: bool = False

    @property
    def user_id(self) -> int:
        return self.token.user_id

    @property
    def user(self) -> dict[str, Any]:
        return self.portal.users.get(self.token.user_id, {})

    @property
    def is_admin(self) -> bool:
        return bool(self.user.get("ADMIN"))

    def require_admin(self) -> None:
        if not self.is_admin:
            raise RestError("ACCESS_DENIED", "Access denied! Admin permissions required", 403)


Handler = Callable[[CallContext, dict[str, Any]], Any]


@dataclass
class MethodSpec:
    name: str
    scope: str
    func: Handler
    admin: bool = False


METHODS: dict[str, MethodSpec] = {}

# A method of scope X is allowed when the token holds any of these scopes.
SCOPE_ALIASES: dict[str, tuple[str, ...]] = {
    "user_brief": ("user", "user_brief", "user_basic"),
    "basic": (),
}


def method(name: str, scope: str = "basic", admin: bool = False) -> Callable[[Handler], Handler]:
    """Register a REST method under its lower-case name."""

    def deco(func: Handler) -> Handler:
        METHODS[name.lower()] = MethodSpec(name, scope, func, admin)
        return func

    return deco


def scope_allows(spec_scope: str, granted: list[str]) -> bool:
    if spec_scope == "basic":
        return True
    allowed = SCOPE_ALIASES.get(spec_scope, (spec_scope,))
    return any(s in granted for s in allowed)


def up(params: dict[str, Any]) -> dict[str, Any]:
    """Upper-case top-level keys, as most Bitrix modules do with their input."""
    return {str(k).upper(): v for k, v in params.items()}


def as_int(value: Any, name: str = "ID") -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise RestError("ERROR_ARGUMENT", f"{name} is not defined or invalid.", 400) from None
    if n <= 0:
        raise RestError("ERROR_ARGUMENT", f"{name} is not defined or invalid.", 400)
    return n


def as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def yes(value: Any) -> bool:
    return str(value).strip().upper() in ("Y", "1", "TRUE")
