"""What needs the admin's attention first: a short ordered list, decided from a snapshot.

Pure: the operations panel gathers a Snapshot (the portal's status, its dead letters, the
scopes it lacks, and what each capability reports through its published "attention:<name>"
service); `attention()` turns it into the list the overview shows, most urgent first, each
item naming the admin page where it is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.i18n import N_, Msg

SERVICE_PREFIX = "attention:"  # a capability publishes "attention:<its name>": fn(ctx) -> notes
# ranks: lower comes first; capabilities use the ones between (Google 30, files 40, items 60)
REINSTALL, FAILED, SCOPES = 10, 20, 50
OPERATIONS = "operations"


@dataclass(frozen=True)
class Note:
    """One thing to look at: a msgid with its placeholders and the page that fixes it."""

    rank: int
    msgid: Msg
    page: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    needs_reinstall: bool = False
    failed_jobs: int = 0
    missing_scopes: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()  # what the capabilities reported


def attention(snap: Snapshot) -> list[Note]:
    """The snapshot's problems, most urgent first; [] when all is well."""
    out = list(snap.notes)
    if snap.needs_reinstall:
        out.append(Note(REINSTALL, N_("The portal no longer accepts the app's token: "
                                      "reinstall the app."), OPERATIONS))
    if snap.failed_jobs:
        out.append(Note(FAILED, N_("Failed jobs: {count}. Read why and requeue them."),
                        OPERATIONS, {"count": snap.failed_jobs}))
    if snap.missing_scopes:
        out.append(Note(SCOPES, N_("The app lacks permissions: {scopes}. Reinstall it with "
                                   "them."), OPERATIONS,
                        {"scopes": ", ".join(snap.missing_scopes)}))
    return sorted(out, key=lambda n: n.rank)


def notes_from(page: str, raw: Sequence[Mapping[str, Any]]) -> tuple[Note, ...]:
    """A capability's report ({"rank", "msgid", "params"} each) as notes for its page."""
    return tuple(Note(int(r["rank"]), Msg(r["msgid"]), page, dict(r.get("params") or {}))
                 for r in raw)
