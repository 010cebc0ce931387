"""Management digests: a scheduled report of the deals (new, won, lost, in work, per pipeline,
beside the period before), the watchdogs' overdue items and a chart of the week, to a
Bitrix24 chat, people or Telegram chats, in the portal's language.

The schedule is robots.digests.schedule (pure), the figures robots.digests.figures (pure),
the text robots.digests.message, the chart robots.digests.chart; robots.digests.send reads,
decides what is due and sends once per slot.
"""

from __future__ import annotations

from connector.capability import Capability, Periodic, Task
from connector.i18n import N_
from robots.digests import config, send
from robots.digests.config import NAME
from robots.digests.panels import PANELS, attention

CAPABILITY = Capability(
    name=NAME,
    title=N_("Management digests"),
    settings=config.SCHEMAS,
    periodic=(Periodic("check", send.every, send.check,
                       title=N_("See whether a digest is due")),),
    tasks=(Task("send", send.send, title=N_("Send a management digest")),),
    panels=PANELS,
    scopes=frozenset({"crm", "im", "disk"}),
    provides={f"attention:{NAME}": attention},
)
