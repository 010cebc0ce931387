"""A local amoCRM / Kommo (API v4, OAuth, webhooks, digital pipeline, Files host) reached
over real HTTP by connector.amocrm: `AmoEmulator(...).start()` in tests, `python -m amoemu
--port N --demo` for `./dev up`; point the app at it with `app_env(emu.url)`."""

from amoemu.server import AmoEmulator, app_env
from amoemu.state import Account, User

__all__ = ["Account", "AmoEmulator", "User", "app_env"]
