"""The demo portal you can click through: HTML pages in the emulator that behave like
Bitrix24's (desktop, leads, deals, the deal card framing the app's tab, the app's page,
chats, work day, robots)."""

from __future__ import annotations

from flask import Flask

from ..core import Emulator


def register_demo(app: Flask, emu: Emulator) -> None:
    from .views import demo_blueprint

    app.register_blueprint(demo_blueprint(emu))
