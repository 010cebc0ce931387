"""REST method implementations, registered by name in :mod:`emulator.registry`."""

from . import app, bizproc, crm, events, im, items, placement, users  # noqa: F401
