"""REST method implementations, registered by name in :mod:`emulator.registry`."""

from . import activity, app, bizproc, crm, disk, events, im, items, placement, users  # noqa: F401
