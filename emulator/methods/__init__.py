"""REST method implementations, registered by name in :mod:`emulator.registry`."""

from . import (  # noqa: F401
    activity,
    app,
    bizproc,
    calendar,
    crm,
    currency,
    disk,
    events,
    im,
    items,
    placement,
    product_rows,
    requisites,
    tasks,
    types,
    userfieldconfig,
    users,
)
