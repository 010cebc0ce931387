"""Which hosts are amoCRM's, and how the app reaches one (AMOCRM_URL_TEMPLATE).

Only `*.amocrm.ru`, `*.kommo.com` and the legacy `*.amocrm.com` are accounts (research
notes §0). An admin's `referer` names the account we exchange a code with, sending our
client secret: a host outside those zones is refused before any request is made.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from connector.crm.port import AMOCRM_MEMBER_PREFIX

ZONES = ("amocrm.ru", "kommo.com", "amocrm.com")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# shared hosts that are never an account (the marketing site, the OAuth consent page)
NOT_ACCOUNTS = frozenset({"www", "api", "drive", "amojo", "developers", "id", "oauth"})


class DomainRefused(ValueError):
    """Not an amoCRM / Kommo host we may send a secret to."""


def _host(value: str) -> str:
    text = (value or "").strip().lower()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.username or parts.password or parts.port not in (None, 443):
        raise DomainRefused(f"not a plain host: {value!r}")
    return host.rstrip(".")


def service_host(value: str) -> str:
    """The host of an amoCRM service (`name.amocrm.ru`, `drive-b.kommo.com`, ...)."""
    host = _host(value)
    for zone in ZONES:
        if host.endswith("." + zone):
            label = host[: -len(zone) - 1]
            if _LABEL.match(label):
                return host
    raise DomainRefused(f"not an amoCRM or Kommo host: {value!r}")


def account_domain(value: str) -> str:
    """A validated account host from a `referer`, a `subdomain.zone` or an account URL."""
    host = service_host(value)
    label = host.split(".", 1)[0]
    if label in NOT_ACCOUNTS or label.startswith(("api-", "drive-")):
        raise DomainRefused(f"a shared amoCRM host, not an account: {value!r}")
    return host


def member_id(account_id: int | str) -> str:
    """The PortalStore key of an amoCRM account: `amo-{account_id}`."""
    text = str(account_id).strip()
    if not text.isdigit():
        raise ValueError(f"amoCRM account ids are numbers: {account_id!r}")
    return f"{AMOCRM_MEMBER_PREFIX}{int(text)}"


def account_id_of(member: str) -> int:
    if not member.startswith(AMOCRM_MEMBER_PREFIX):
        raise ValueError(f"not an amoCRM member id: {member!r}")
    return int(member[len(AMOCRM_MEMBER_PREFIX):])


class Hosts:
    """Turns an amoCRM host or URL into the address the app calls (the URL template)."""

    def __init__(self, template: str = "https://{domain}"):
        if "{domain}" not in template:
            raise ValueError("AMOCRM_URL_TEMPLATE needs {domain}")
        self.template = template.rstrip("/")
        self._prefix, _, self._suffix = self.template.partition("{domain}")

    def base(self, host: str) -> str:
        """The base URL (no trailing slash) of a validated amoCRM host."""
        return self.template.format(domain=service_host(host))

    def reach(self, url: str) -> str:
        """An absolute URL amoCRM handed us (next page, upload_url, download href) as the
        address to call; refused unless it is on an amoCRM host (directly, or behind the
        template's prefix, as the emulator serves every host)."""
        if self._prefix and url.startswith(self._prefix) and not self._suffix:
            rest = url[len(self._prefix):]
            host, sep, tail = rest.partition("/")
            service_host(host.split("?", 1)[0])
            return url
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise DomainRefused(f"not an https amoCRM address: {url!r}")
        host = service_host(parts.netloc)
        tail = url.split(parts.netloc, 1)[1]
        return self.base(host) + tail
