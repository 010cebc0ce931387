"""A local Bitrix24 portal (OAuth server, REST, limits, events, robots, installs) for tests
and the demo. It knows nothing about the app it serves."""

from .core import Emulator
from .errors import RestError
from .server import EmulatorServer, create_emulator_app
from .state import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig", "EmulatorServer", "RestError", "create_emulator_app"]
