"""Build the Drive v3 client from the packaged static discovery document (no network needed).

`root_url` swaps the document's `rootUrl`, which moves both the metadata (`drive/v3/`) and the
upload (`upload/drive/v3/`) endpoints; `client_options.api_endpoint` would only move the former
over plain HTTP. The transport is `build_http()` (it disables 308-as-redirect, which resumable
uploads need) wrapped in `AuthorizedHttp`.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from google.auth.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import Resource, build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.http import build_http


@lru_cache(maxsize=1)
def _static_doc() -> str:
    doc = get_static_doc("drive", "v3")
    if doc is None:  # pragma: no cover - the document ships inside google-api-python-client
        raise RuntimeError("google-api-python-client lacks the static drive.v3 document")
    return doc


def discovery_document(root_url: str | None = None) -> dict[str, Any]:
    """A private copy of the Drive v3 discovery document, optionally re-rooted."""
    doc = copy.deepcopy(json.loads(_static_doc()))
    if root_url:
        doc["rootUrl"] = root_url.rstrip("/") + "/"
        doc.pop("mtlsRootUrl", None)
    return doc


def build_drive(credentials: Credentials, root_url: str | None = None) -> Resource:
    """A Drive v3 service object; build one per job/thread (httplib2 is not thread-safe)."""
    http = AuthorizedHttp(credentials, http=build_http())
    return build_from_document(discovery_document(root_url), http=http)
