"""Control knobs for how a real portal differs from the demo: rights, domain, plan.

``POST /_emulator/crm-access``  {user_id, entity: lead|deal|contact|company|dynamic_<id>,
                                 id?: row (0 = every row), read: bool}
``POST /_emulator/rename``      {domain, host?}: the portal moves to a new address
``POST /_emulator/plan``        {features: {name: bool}}: what ``feature.get`` answers
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from .core import Emulator
from .errors import RestError


def register_portal_control(app: Flask, emu: Emulator) -> None:
    from .server import json_response

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True, force=True) if request.get_data() else None
        return data if isinstance(data, dict) else {}

    @app.post("/_emulator/crm-access")
    def crm_access() -> Response:
        """Take away (read=false) or give back a user's right to read CRM rows."""
        b = body()
        p = emu.portal(b.get("member_id"))
        uid, entity = int(b.get("user_id") or 0), str(b.get("entity") or "").lower()
        if uid not in p.users or not entity:
            raise RestError("ERROR_ARGUMENT", "user_id and entity are required", 400)
        key = (uid, entity, int(b.get("id") or 0))
        with emu.lock:
            if b.get("read", False):
                p.read_denied.discard(key)
            else:
                p.read_denied.add(key)
            denied = sorted(p.read_denied)
        return json_response({"read_denied": [list(k) for k in denied]})

    @app.post("/_emulator/clock")
    def clock() -> Response:
        """Shift the portal's clock by `shift_s` seconds (negative: the past) for what it
        stamps from now on (DATE_CREATE, MOVED_TIME, CREATED), so a test sees a lead created
        two hours ago without waiting; {"shift_s": 0} puts it back."""
        import time

        shift = float(body().get("shift_s") or 0)
        emu.clock = (lambda: time.time() + shift) if shift else time.time
        return json_response({"shift_s": shift, "now": emu.now()})

    @app.post("/_emulator/rename")
    def rename() -> Response:
        """The portal moves to a new address; REST at the old one answers 302."""
        b = body()
        return json_response(emu.rename(b.get("member_id"), str(b.get("domain") or ""),
                                        b.get("host") or None))

    @app.post("/_emulator/plan")
    def plan() -> Response:
        """Switch plan features on or off, e.g. {"features": {"rest_offline_extended": false}}."""
        wanted = body().get("features") or {}
        with emu.lock:
            have = emu.config.feature_list()
            for name, on in (wanted.items() if isinstance(wanted, dict) else []):
                (have.add if on else have.discard)(str(name))
            emu.config.features = ",".join(sorted(have))
        return json_response({"features": sorted(have)})
