"""Downloading a file the portal named: fill in our token, refuse anything but the file.

File fields' `downloadUrl` and activity files' `url` come with an empty `auth=` that the
caller fills with its own access token
(tutorials/crm/how-to-add-crm-objects/how-to-add-lead-with-files.md,
api-reference/crm/timeline/activities/activity-base/crm-activity-list.md); `disk.file.get`'s
`DOWNLOAD_URL` already carries one (api-reference/disk/file/disk-file-get.md). Without a
valid token a portal answers with a redirect to its login page, and a client that follows
it stores that page as the file. So: no redirects, no HTML, and the size must be the one the
portal declared.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from connector.bitrix.rest import BitrixClient
from connector.errors import Permanent, Retryable

TOKEN_MARGIN_S = 60.0


class DownloadRefused(Permanent):
    """The portal did not hand out the file (a login page, no rights, a web page)."""


class FileGone(Permanent):
    """The file is not there any more (404/410): deleted, not a failure to retry."""


class DownloadRetryable(Retryable):
    """A network failure, 429 or 5xx: a later attempt may get the file."""


class SizeMismatch(Retryable):
    """Content-Length is not the size the portal declared: the file changed meanwhile, so
    its facts must be read again before the next attempt."""


def with_token(url: str, base: str, access_token: str) -> str:
    """`url` made absolute against the portal's `base`, with an empty or missing `auth`
    filled; refused if it points at another host (our token goes only to the portal)."""
    absolute = urljoin(base, url)
    parts, home = urlsplit(absolute), urlsplit(base)
    if parts.netloc != home.netloc or parts.scheme not in ("https", home.scheme):
        raise DownloadRefused(f"file link points away from the portal: {parts.netloc}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "auth" and v for k, v in query):
        query = [(k, v) for k, v in query if k != "auth"] + [("auth", access_token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def open_download(session: requests.Session, client: BitrixClient, url: str,
                  declared_size: int | None, timeout: float) -> requests.Response:
    """A streamed GET of the file at `url`, checked; the caller reads and closes it.

    Raises FileGone, DownloadRefused (Permanent), DownloadRetryable or SizeMismatch
    (Retryable). The token comes from the client's TokenManager, refreshed first if it is
    about to expire (an expired token would only earn a login page).
    """
    tokens = client.tokens.current(client.member_id)
    if tokens.expired(margin=TOKEN_MARGIN_S):
        tokens = client.tokens.refresh(client.member_id, tokens)
    base = "{0.scheme}://{0.netloc}/".format(urlsplit(client.endpoint))
    target = with_token(url, base, tokens.access_token)
    try:
        resp = session.get(target, stream=True, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise DownloadRetryable(f"download failed: {type(exc).__name__}") from exc
    try:
        _check(resp, declared_size)
    except Exception:
        resp.close()
        raise
    return resp


def _check(resp: requests.Response, declared_size: int | None) -> None:
    status = resp.status_code
    if 300 <= status < 400:
        raise DownloadRefused(f"the portal asked for a login instead of sending the file "
                              f"(HTTP {status})")
    if status in (404, 410):
        raise FileGone(f"the file is gone (HTTP {status})")
    if status == 429 or status >= 500:
        raise DownloadRetryable(f"the portal could not send the file now (HTTP {status})")
    if status != 200 and status != 206:
        raise DownloadRefused(f"the portal refused the file (HTTP {status})")
    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "text/html":
        raise DownloadRefused("the portal answered with a web page where a file was expected")
    length = resp.headers.get("Content-Length")
    if declared_size is not None and length is not None and status == 200 and (
            int(length) != int(declared_size)):
        raise SizeMismatch(f"the file is {length} bytes, the portal declared {declared_size}")
