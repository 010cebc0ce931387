"""The consent page `https://www.amocrm.ru/oauth?client_id=…&state=…&mode=…` and its answer
(amocrm.md §1.2; https://www.amocrm.ru/developers/content/oauth/step-by-step)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from amoemu.app import page

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator


def consent_page(emu: AmoEmulator, req: Request, host: str) -> Response:
    """A small page: pick the account, "Разрешить" / "Отказать". Parameters the page does
    not use (response_type, approval_prompt, redirect_uri, scope) are ignored (§1.2)."""
    client_id = req.args.get("client_id", "")
    if client_id != emu.state.client_id:
        return page("Ошибка", "<h1>Интеграция не найдена</h1>", 400)
    esc = html.escape
    options = "".join(
        f"<option value={a.id}>{esc(a.name)} ({esc(a.domain)})</option>"
        for a in emu.state.accounts.values())
    hidden = "".join(f"<input type=hidden name={k} value='{esc(req.args.get(k, ''))}'>"
                     for k in ("client_id", "state", "mode"))
    return page("Предоставить доступ", f"""<h1>Предоставить доступ интеграции</h1>
<form method=post action='{esc(req.script_root)}/{host}/oauth/decide'>{hidden}
<label>Аккаунт <select name=account_id>{options}</select></label>
<p><button name=decision value=allow>Разрешить</button>
<button name=decision value=deny>Отказать</button></p></form>""")


def decide(emu: AmoEmulator, req: Request) -> Response:
    """Allow: the Redirect URI with code, referer, platform and state (if sent); deny:
    error=access_denied (+ state). mode=popup: the opener is redirected and the window
    closes; mode=post_message: the redirect happens in this window, which also
    postMessages the opener (§1.2)."""
    state, mode = req.form.get("state", ""), req.form.get("mode", "post_message")
    if req.form.get("decision") == "allow":
        grant = emu.authorize(int(req.form.get("account_id", "0")), state=state or None)
        params = {k: grant[k] for k in ("code", "referer", "platform")}
        if state:
            params["state"] = state
    else:
        params = {"error": "access_denied"}
        if state:
            params["state"] = state
    target = emu.state.redirect_uri + ("&" if "?" in emu.state.redirect_uri else "?") + \
        urlencode(params)
    if mode == "popup":
        script = (f"var u={json.dumps(target)};if(window.opener){{window.opener.location=u;"
                  f"window.close();}}else{{location=u;}}")
        return page("Доступ", f"<script>{script}</script><a href='{html.escape(target)}'>"
                              f"Продолжить</a>")
    resp = Response("", 302)
    resp.headers["Location"] = target
    return resp
