"""The file side of the amoCRM port: files of leads (the Files API and attachment notes),
downloads and uploads through the account's Files host."""

from __future__ import annotations

from typing import Any, ClassVar


class AmoFiles:
    """Mixin of AmoCrm (connector.amocrm.adapter): uses self.client, self.get, self.domain."""

    _READS: ClassVar[dict[type, str]] = {}
    _WRITES: ClassVar[dict[type, str]] = {}
    client: Any
