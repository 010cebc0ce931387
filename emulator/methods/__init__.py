"""REST method implementations, registered by name in :mod:`emulator.registry`."""

from . import app, bizproc, crm, events, im, placement, users  # noqa: F401
