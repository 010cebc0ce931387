"""Smart processes on amoCRM: a capability's registry kept as an amoCRM catalog (list)."""

from __future__ import annotations

from typing import Any, ClassVar


class AmoCatalogs:
    """Mixin of AmoCrm (connector.amocrm.adapter): uses self.client, self.get."""

    _READS: ClassVar[dict[type, str]] = {}
    _WRITES: ClassVar[dict[type, str]] = {}
    client: Any
