"""App-level methods: app.info, app.option.*, scope, methods, feature.get."""

from __future__ import annotations

from typing import Any

from ..errors import RestError
from ..registry import METHODS, CallContext, as_dict, method, scope_allows, up


@method("app.info")
def app_info(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    app = ctx.portal.app
    ent = ctx.emu.config.enterprise
    return {
        "ID": 7, "CODE": ctx.emu.config.client_id, "VERSION": app.version, "STATUS": "L",
        "INSTALLED": app.installed, "PAYMENT_EXPIRED": "N", "DAYS": None,
        "LANGUAGE_ID": ctx.emu.config.language_id,
        "LICENSE": "en_ent250" if ent else "en_project",
        "LICENSE_TYPE": "ent250" if ent else "project",
        "LICENSE_FAMILY": "ent" if ent else "project",
    }


@method("app.option.get")
def option_get(ctx: CallContext, params: dict[str, Any]) -> Any:
    name = up(params).get("OPTION")
    options = ctx.portal.app.options
    if name is None or name == "":
        return dict(options) if options else []
    return options.get(str(name))


@method("app.option.set", admin=True)
def option_set(ctx: CallContext, params: dict[str, Any]) -> bool:
    for key, value in as_dict(up(params).get("OPTIONS")).items():
        ctx.portal.app.options[str(key)] = value
    return True


@method("scope")
def scope(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    if str(up(params).get("FULL", "")).lower() in ("true", "1", "y"):
        return sorted({m.scope for m in METHODS.values() if m.scope != "basic"})
    return ctx.emu.config.scope_list()


@method("methods")
def methods(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    want = up(params).get("SCOPE")
    granted = ctx.emu.config.scope_list()
    out = []
    for name, spec in sorted(METHODS.items()):
        if want is not None and spec.scope != want:
            continue
        if want is None and not scope_allows(spec.scope, granted):
            continue
        out.append(name)
    return out


@method("feature.get")
def feature_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/common/system/feature-get.md: {"value": "Y"|"N"}; no CODE: CODE_EMPTY."""
    code = str(up(params).get("CODE") or "").strip()
    if not code:
        raise RestError("CODE_EMPTY", "CODE can't be empty", 400)
    return {"value": "Y" if code in ctx.emu.config.feature_list() else "N"}
